"""The buyer's pages: hosted checkout (/pay), embedded checkout (/embed) and the 3-D Secure challenge.

Card number and CVC arrive in a form POST, live only in a `cards.Card` for the request, and are
never echoed back into the page, stored or logged.
"""
import hmac
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for

from . import cards, sessions
from .errors import ApiError
from .models import PaymentSession, atomic, db

bp = Blueprint("pages", __name__)
# "auth": a card-fields session (the card was typed in the PSP's fields on the platform's page)
# has only a 3-D Secure page here; after it the buyer goes back to the platform like "pay".
KINDS = {"pay": "hosted", "embed": "embedded", "auth": "fields"}
RETURNS = ("pay", "auth")
_BASE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
             "base-uri 'none'; object-src 'none'")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def _secured(response, kind: str, session: PaymentSession | None):
    """Framing: the embed page only inside the platform origin, the hosted page never."""
    response = current_app.make_response(response)
    if kind == "embed":
        ancestors, targets = current_app.config["SANDBOX_PLATFORM_ORIGIN"], "'self'"
    else:
        ancestors, targets = "'none'", "'self'"
        # Chrome applies form-action to the redirect after a POST too: allow the return URL.
        if session is not None and session.return_url:
            targets += " " + _origin(session.return_url)
        response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = (
        f"{_BASE_CSP}; form-action {targets}; frame-ancestors {ancestors}")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def _load(kind: str, session_id: str) -> PaymentSession:
    session = db.session.get(PaymentSession, session_id)
    if session is None or session.mode != KINDS[kind]:
        abort(_secured((render_template("status.html", title="Payment not found",
                                        text="This payment link is not valid."), 404), kind, None))
    return session


def _check_token(kind: str, session: PaymentSession) -> None:
    # The form token is only readable by a page we served, so no other site can post this form.
    if not hmac.compare_digest(request.form.get("form_token", ""), session.form_token):
        abort(_secured((render_template("status.html", title="Form expired",
                                        text="This form has expired. Reload the page and try again."),
                        403), kind, session))


def _return_url(session: PaymentSession) -> str:
    parts = urlsplit(session.return_url)
    query = urlencode(parse_qsl(parts.query, keep_blank_values=True) + [("session_id", session.id)])
    return urlunsplit(parts._replace(query=query))


def _result(session: PaymentSession, status: str) -> dict:
    """The message posted to the parent page; errors only for a decline."""
    error = (session.last_payment_error or {}) if status == "declined" else {}
    return {"source": "holdfast-sandbox", "type": "payment_session.result", "session": session.id,
            "status": status, "code": error.get("code"), "decline_code": error.get("decline_code"),
            "message": error.get("message")}


def _form(kind, session, error=None, result=None):
    # A re-shown form answers 200: a 4xx would appear as an error in the buyer's console.
    page = render_template("checkout.html", kind=kind, session=session, error=error, result=result,
                           action=url_for("pages.submit", kind=kind, session_id=session.id))
    return _secured(page, kind, session)


def _finished(kind: str, session: PaymentSession):
    """The page for a session that no longer takes a card."""
    if sessions.is_past_expiry(session) or session.status == "expired":
        return _secured(render_template("status.html", title="Payment expired",
                                        text="This payment session has expired."), kind, session)
    if session.status == "canceled":
        result = _result(session, "canceled") if kind == "embed" else None
        return _secured(render_template("status.html", title="Payment canceled", result=result,
                                        session=session, text="This payment was canceled."), kind, session)
    result = _result(session, session.status) if kind == "embed" else None
    link = _return_url(session) if kind in RETURNS and session.return_url else None
    return _secured(render_template("status.html", title="Payment successful", result=result,
                                    session=session, link=link,
                                    text="Your payment was accepted."), kind, session)


def _after_outcome(kind: str, session: PaymentSession, outcome: str):
    """Where a card or 3-D Secure answer takes the buyer."""
    if outcome == "requires_action":
        return redirect(url_for("pages.challenge", kind=kind, session_id=session.id), 303)
    if outcome == "declined":
        result = _result(session, "declined") if kind == "embed" else None
        return _form(kind, session, session.last_payment_error["message"], result=result)
    if kind in RETURNS:
        return _secured(redirect(_return_url(session), 303), kind, session)
    return _finished(kind, session)


@bp.get("/<any(pay, embed, auth):kind>/<session_id>")
def show(kind, session_id):
    """The card form, or the session's outcome if it no longer takes a card."""
    session = _load(kind, session_id)
    if session.status == "requires_action" and not sessions.is_past_expiry(session):
        return redirect(url_for("pages.challenge", kind=kind, session_id=session.id), 303)
    if kind == "auth":  # the card form is on the platform's page: back there
        return _secured(redirect(_return_url(session), 303), kind, session)
    if session.status != "open" or sessions.is_past_expiry(session):
        return _finished(kind, session)
    return _form(kind, session, (session.last_payment_error or {}).get("message"))


@bp.post("/<any(pay, embed):kind>/<session_id>")
def submit(kind, session_id):
    """Authorize the typed card; on a decline show the reason and the form again."""
    session = _load(kind, session_id)
    _check_token(kind, session)
    try:
        card = cards.parse_card(request.form.get("card_number", ""), request.form.get("expiry", ""),
                                request.form.get("cvc", ""))
    except cards.CardInputError as problem:
        return _form(kind, session, problem.message)
    try:
        with atomic():
            outcome = sessions.authorize(session, card)
    except ApiError:  # no longer open: show what became of it
        return redirect(url_for("pages.show", kind=kind, session_id=session.id), 303)
    return _after_outcome(kind, session, outcome)


@bp.get("/<any(pay, embed, auth):kind>/<session_id>/3ds")
def challenge(kind, session_id):
    """The issuer's 3-D Secure challenge, simulated by two buttons."""
    session = _load(kind, session_id)
    if session.status != "requires_action" or sessions.is_past_expiry(session):
        return redirect(url_for("pages.show", kind=kind, session_id=session.id), 303)
    page = render_template("challenge.html", kind=kind, session=session,
                           action=url_for("pages.answer_challenge", kind=kind, session_id=session.id))
    return _secured(page, kind, session)


@bp.post("/<any(pay, embed, auth):kind>/<session_id>/3ds")
def answer_challenge(kind, session_id):
    """Pass or fail the challenge; failing reopens the session with authentication_failed."""
    session = _load(kind, session_id)
    _check_token(kind, session)
    try:
        with atomic():
            outcome = sessions.complete_authentication(session, request.form.get("outcome") == "complete")
    except ApiError:
        return redirect(url_for("pages.show", kind=kind, session_id=session.id), 303)
    if outcome == "declined" and kind in RETURNS:
        return redirect(url_for("pages.show", kind=kind, session_id=session.id), 303)
    return _after_outcome(kind, session, outcome)


@bp.post("/embed/<session_id>/cancel")
def cancel_embedded(session_id):
    """The buyer gives up inside the iframe: cancel the session and tell the parent page."""
    session = _load("embed", session_id)
    _check_token("embed", session)
    try:
        with atomic():
            sessions.cancel(session)
    except ApiError:
        pass  # already paid, canceled or expired: the page below shows which
    return redirect(url_for("pages.show", kind="embed", session_id=session.id), 303)
