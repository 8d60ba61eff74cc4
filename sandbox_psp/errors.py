"""API errors in the contract's JSON shape, and handlers that answer every failure with one."""
from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException


class ApiError(Exception):
    """An answer the API gives instead of an object: status plus `{"error": {...}}`."""

    def __init__(self, status: int, type_: str, code: str, message: str,
                 param: str | None = None, decline_code: str | None = None):
        super().__init__(message)
        self.status, self.type, self.code, self.message = status, type_, code, message
        self.param, self.decline_code = param, decline_code

    def body(self) -> dict:
        """The JSON body, leaving out `param` and `decline_code` when they do not apply."""
        error = {"type": self.type, "code": self.code, "message": self.message}
        if self.param is not None:
            error["param"] = self.param
        if self.decline_code is not None:
            error["decline_code"] = self.decline_code
        return {"error": error}


def invalid(param: str, message: str, code: str = "parameter_invalid") -> ApiError:
    """A 400 invalid_request_error about one parameter."""
    return ApiError(400, "invalid_request_error", code, message, param=param)


def missing(kind: str, object_id: str, param: str = "id") -> ApiError:
    """A 404 for an object that does not exist."""
    return ApiError(404, "invalid_request_error", "resource_missing",
                    f"No such {kind}: '{object_id}'", param=param)


def unexpected_state(status: str, action: str, kind: str = "payment_session") -> ApiError:
    """A 409 naming the object's status and the move that it forbids."""
    return ApiError(409, "invalid_request_error", f"{kind}_unexpected_state",
                    f"This {kind.replace('_', ' ')}'s status is {status}; it cannot be {action}.")


def card_declined(error: dict) -> ApiError:
    """A 402 card_error from a session's `last_payment_error`."""
    return ApiError(402, "card_error", error["code"], error["message"],
                    decline_code=error.get("decline_code"))


def api_failure() -> ApiError:
    """A 500 that tells nothing of the cause."""
    return ApiError(500, "api_error", "internal_error", "An error occurred in the sandbox PSP.")


def register_error_handlers(app: Flask) -> None:
    """Answer API errors (and HTTP errors under /v1) as JSON."""

    @app.errorhandler(ApiError)
    def _api_error(error: ApiError):
        return jsonify(error.body()), error.status

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        if not request.path.startswith("/v1/"):
            return error
        code = "resource_missing" if error.code == 404 else "request_invalid"
        body = ApiError(error.code, "invalid_request_error", code, error.description).body()
        return jsonify(body), error.code

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        if request.path.startswith("/v1/"):
            return jsonify(api_failure().body()), 500
        return "Something went wrong in the sandbox PSP.", 500, {"Content-Type": "text/plain"}
