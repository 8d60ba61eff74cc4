"""Error responses: JSON for API clients and htmx, a readable page for people."""
from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError

from app.database import Contended, is_transient

MESSAGES = {
    400: "The request could not be understood.",
    403: "You are not allowed to do that.",
    404: "We could not find that page.",
    405: "That action is not allowed here.",
    409: "That conflicts with something that happened meanwhile. Please reload and try again.",
    413: "That upload is too large.",
    429: "Too many requests. Please wait a moment and try again.",
    500: "Something went wrong on our side. Nothing was charged twice; please try again.",
}


CONTENDED = ("Someone else changed this at the same moment, so nothing was saved. "
             "Please reload and try again.")


def wants_json() -> bool:
    """True for API and webhook clients, which get JSON errors."""
    if request.path.startswith(("/api/", "/webhooks/", "/healthz")):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json" and request.accept_mimetypes[best] > \
        request.accept_mimetypes["text/html"]


def error_response(code: int, message: str | None = None):
    """Render an error as JSON or HTML, never with internals."""
    text = message or MESSAGES.get(code, "Request failed.")
    if wants_json():
        return jsonify(error={"code": code, "message": text}), code
    return render_template("error.html", code=code, message=text), code


def register(app: Flask) -> None:
    """Install handlers for every HTTP error and for unexpected exceptions."""

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        # Our own aborts may carry a specific, safe description.
        custom = exc.description if getattr(exc, "holdfast_message", False) else None
        return error_response(exc.code or 500, custom)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        if isinstance(exc, HTTPException):
            return _http(exc)
        if isinstance(exc, Contended) or is_transient(exc):
            # Another transaction held or changed the same rows, every retry included: the
            # request changed nothing, and trying again is the right advice (a 409, not a 500).
            app.logger.warning("contended on %s %s: %s", request.method, request.path, exc)
            return error_response(409, CONTENDED)
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(InternalServerError.code)
