"""State changes of a payment session; each one records an event in the same transaction.

Functions here change rows but never commit: the caller's unit of work does (models.atomic,
or the idempotency runner, which also saves the response with the change).
"""
import secrets
import time

from flask import current_app

from . import balance_transactions, cards, disputes, events, fees, payment_methods
from .errors import invalid, missing, unexpected_state
from .models import PaymentSession, SessionCapture, SessionRisk, db, new_id, now
from .paging import page

# Every allowed move; anything else is refused with the current status named.
TRANSITIONS = {
    "open": {"requires_action", "authorized", "canceled", "expired"},
    "requires_action": {"open", "authorized", "canceled", "expired"},
    "authorized": {"captured", "partially_captured", "canceled"},
    # Multicapture: more partial captures, then a final one (or a void of the rest) ends it.
    "partially_captured": {"partially_captured", "captured"},
}
CAPTURABLE = ("authorized", "partially_captured")
UNPAID = ("open", "requires_action")
AUTHENTICATION_FAILED = {
    "code": "authentication_failed", "decline_code": None,
    "message": "We could not authenticate your payment method. Choose another one and try again.",
}


def _move(session: PaymentSession, status: str, action: str) -> None:
    """Change status if the transition table allows it, else raise a 409 naming both."""
    if status not in TRANSITIONS.get(session.status, ()):
        raise unexpected_state(session.status, action)
    session.status = status


def _record(session: PaymentSession, event_type: str) -> None:
    events.emit(f"payment_session.{event_type}", session.to_dict())


def create(params: dict, base_url: str, scope: str | None = None) -> PaymentSession:
    """A new `open` session from validated parameters; `scope` owns any card it saves."""
    ttl = params.pop("expires_in", None) or current_app.config["SANDBOX_SESSION_TTL"]
    usage = params.pop("setup_future_usage", None)
    three_d_secure = params.pop("request_three_d_secure", None) or "automatic"
    created = now()
    session = PaymentSession(
        id=new_id("ps"), created=created, status="open", base_url=base_url, dispute_card=False,
        amount_authorized=0, amount_captured=0, amount_refunded=0,
        expires_at=created + ttl, form_token=secrets.token_urlsafe(32),
        metadata_=params.pop("metadata", {}), **params)
    db.session.add(session)
    payment_methods.request_setup(session, usage, scope)
    session.risk = SessionRisk(three_d_secure=three_d_secure)
    return session


def get(session_id: str, param: str = "id") -> PaymentSession:
    """A session by id, or a 404 ApiError naming `param`."""
    session = db.session.get(PaymentSession, session_id)
    if session is None:
        raise missing("payment_session", session_id, param)
    return session


def find(client_reference_id: str | None, limit: int) -> tuple[list, bool]:
    """Sessions, newest first, optionally by client_reference_id: (sessions, has_more)."""
    query = db.select(PaymentSession).order_by(PaymentSession.created.desc(), PaymentSession.id)
    if client_reference_id is not None:
        query = query.filter_by(client_reference_id=client_reference_id)
    return page(query, limit)


def is_past_expiry(session: PaymentSession, at: float | None = None) -> bool:
    """True if an unpaid session has outlived its expires_at."""
    return session.status in UNPAID and (at or time.time()) >= session.expires_at


def _expire_if_due(session: PaymentSession) -> None:
    # The deliverer expires sessions on its own cadence; a payment attempt
    # arriving in between must not succeed on a session that is already past due.
    if is_past_expiry(session):
        _move(session, "expired", "expired")
        _record(session, "expired")


def expire_due(at: float | None = None) -> int:
    """Expire every unpaid session past its expires_at; returns how many."""
    at = at or time.time()
    due = list(db.session.scalars(db.select(PaymentSession).where(
        PaymentSession.status.in_(UNPAID), PaymentSession.expires_at <= at)))
    count = 0
    for session in due:
        _move(session, "expired", "expired")
        _record(session, "expired")
        count += 1
    return count


def cancel(session: PaymentSession) -> PaymentSession:
    """open or requires_action -> canceled (an authorized session is voided instead)."""
    _expire_if_due(session)
    if session.status not in UNPAID:
        raise unexpected_state(session.status, "canceled")
    _move(session, "canceled", "canceled")
    _record(session, "canceled")
    return session


def authorize(session: PaymentSession, card: cards.Card) -> str:
    """Ask the test issuer: returns 'authorized', 'captured', 'requires_action' or 'declined'."""
    _expire_if_due(session)
    if session.status != "open":
        raise unexpected_state(session.status, "authorized")
    outcome = card.outcome()
    _note_risk(session, card)
    if isinstance(outcome, tuple):
        code, decline_code, message = outcome
        # Like Stripe's, the error names the card that failed (display data only), so the
        # platform's fraud screening can count distinct cards in a burst of declines.
        session.last_payment_error = {
            "code": code, "decline_code": decline_code, "message": message,
            "payment_method": card.display_data(current_app.config["SANDBOX_FINGERPRINT_KEY"])}
        _record(session, "payment_failed")
        return "declined"
    session.dispute_card = outcome == cards.DISPUTE
    session.payment_method = card.display_data(current_app.config["SANDBOX_FINGERPRINT_KEY"])
    payment_methods.note_outcome(session, outcome)
    if outcome == cards.THREE_DS or (outcome != cards.DISPUTE and _three_d_secure_asked(session)):
        session.last_payment_error = None
        _move(session, "requires_action", "sent to authentication")
        _record(session, "requires_action")
        return "requires_action"
    return _authorized(session)


def _note_risk(session: PaymentSession, card: cards.Card) -> None:
    """Record the PSP's risk verdict on the card being tried (Stripe's outcome.risk_level)."""
    if session.risk is None:  # a session created before risk was recorded
        session.risk = SessionRisk(three_d_secure="automatic")
    session.risk.risk_level, session.risk.risk_score = card.risk()
    session.risk.blocked = card.blocked


def _three_d_secure_asked(session: PaymentSession) -> bool:
    return session.risk is not None and session.risk.three_d_secure == "any"


def complete_authentication(session: PaymentSession, passed: bool) -> str:
    """The 3-D Secure challenge's answer: 'authorized'/'captured' if passed, else 'declined'."""
    _expire_if_due(session)
    if session.status != "requires_action":
        raise unexpected_state(session.status, "authenticated")
    if passed:
        return _authorized(session)
    _move(session, "open", "reopened")
    session.payment_method = None
    session.dispute_card = False
    session.last_payment_error = dict(AUTHENTICATION_FAILED)
    _record(session, "payment_failed")
    return "declined"


def _authorized(session: PaymentSession) -> str:
    _move(session, "authorized", "authorized")
    session.amount_authorized = session.amount
    session.last_payment_error = None
    payment_methods.attach_if_requested(session)  # before the event, so its snapshot has the id
    _record(session, "authorized")
    if session.capture_method == "automatic":
        capture(session, None)
        return "captured"
    return "authorized"


def capture(session: PaymentSession, amount: int | None, final: bool = True) -> PaymentSession:
    """Capture `amount` (default: all that is left) of an authorization.

    A final capture (the default, as Stripe's) releases the rest of the authorization; a
    non-final one (`final_capture=false`, multicapture) leaves it capturable, so several
    partial captures can follow against the one authorization.
    """
    if session.status not in CAPTURABLE:
        raise unexpected_state(session.status, "captured")
    capturable = session.amount_authorized - session.amount_captured
    amount = capturable if amount is None else amount
    if amount > capturable:
        raise invalid("amount", f"Amount {amount} is more than the {capturable} capturable.",
                      "amount_too_large")
    before = session.fee["amount"] if session.fee else 0
    _move(session, "captured" if final else "partially_captured",
          "captured" if final else "partially captured")
    session.amount_captured += amount
    # The fee is the schedule's on everything captured: its fixed part is charged once.
    session.fee = fees.fee_for(session.amount_captured, session.currency, session.mode)
    part = SessionCapture(id=new_id("cap"), seq=len(session.captures) + 1, session_id=session.id,
                          created=now(), amount=amount, final=final,
                          fee=session.fee["amount"] - before)
    db.session.add(part)
    session.captures.append(part)
    balance_transactions.record("charge", session.id, amount, part.fee, session.currency,
                                charge=session.id, description=f"Capture {part.id} of {session.id}")
    _record(session, "captured" if final else "partially_captured")
    if session.dispute_card and len(session.captures) == 1:
        disputes.open_for(session)  # the test issuer charges it back at once, as Stripe's card does
    return session


def void(session: PaymentSession) -> PaymentSession:
    """Release what is left of an authorization: authorized -> canceled; a partially captured
    session keeps its captures and ends captured (nothing more can be captured)."""
    if session.status == "partially_captured":
        _move(session, "captured", "voided")
        _record(session, "captured")
        return session
    if session.status != "authorized":
        raise unexpected_state(session.status, "voided")
    _move(session, "canceled", "voided")
    _record(session, "canceled")
    return session
