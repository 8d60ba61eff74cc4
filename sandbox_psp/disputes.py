"""Disputes (chargebacks), modelled on Stripe's: opened by the dispute test card's capture,
answered with evidence, decided won or lost by a test helper or the dashboard.

Functions here change rows but never commit: the caller's unit of work does (the idempotency
runner for API calls, models.atomic for the dashboard).
"""
import secrets

from . import balance_transactions, events
from .errors import ApiError, missing, unexpected_state
from .models import Dispute, PaymentSession, db, new_id, now
from .paging import page

# Stripe's fee for a dispute, 15.00 in the session's currency (minor units, whatever the exponent).
FEE = 1500
RESPONSE_WINDOW = 7 * 24 * 3600
# Every allowed move; anything else is refused with the current status named.
TRANSITIONS = {
    "needs_response": {"under_review", "won", "lost"},
    "under_review": {"won", "lost"},
}
OPEN = tuple(TRANSITIONS)
# The amount and the fee are out of the balance in these; a won dispute gives both back.
WITHDRAWN = ("needs_response", "under_review", "lost")
OUTCOMES = ("won", "lost")


def _move(dispute: Dispute, status: str, action: str) -> None:
    if status not in TRANSITIONS.get(dispute.status, ()):
        raise unexpected_state(dispute.status, action, "dispute")
    dispute.status = status


def open_for(session: PaymentSession) -> Dispute:
    """A `needs_response` dispute of everything captured, as the card's issuer would open it."""
    created = now()
    dispute = Dispute(
        id=new_id("dp"), created=created, payment_session_id=session.id,
        amount=session.amount_captured, currency=session.currency, fee_amount=FEE,
        reason="fraudulent", status="needs_response", evidence={}, due_by=created + RESPONSE_WINDOW,
        submission_count=0, form_token=secrets.token_urlsafe(32))
    db.session.add(dispute)
    balance_transactions.record("dispute", dispute.id, -dispute.amount, dispute.fee_amount,
                                dispute.currency, charge=session.id,
                                description=f"Chargeback of {session.id}")
    events.emit("dispute.created", dispute.to_dict())
    return dispute


def get(dispute_id: str) -> Dispute:
    """A dispute by id, or a 404 ApiError."""
    dispute = db.session.scalar(db.select(Dispute).filter_by(id=dispute_id))
    if dispute is None:
        raise missing("dispute", dispute_id)
    return dispute


def find(payment_session_id: str | None, limit: int) -> tuple[list, bool]:
    """Disputes, newest first, optionally of one session: (disputes, has_more)."""
    query = db.select(Dispute).order_by(Dispute.seq.desc())
    if payment_session_id is not None:
        query = query.filter_by(payment_session_id=payment_session_id)
    return page(query, limit)


def is_disputed(session: PaymentSession) -> bool:
    """True while a dispute holds the session's money (open or lost): it cannot be refunded."""
    return db.session.scalar(db.select(Dispute.id).where(
        Dispute.payment_session_id == session.id, Dispute.status.in_(WITHDRAWN)).limit(1)) is not None


def update(dispute: Dispute, evidence: dict, submit: bool) -> Dispute:
    """Stage evidence (merged into what is there) and, if `submit`, send it: -> under_review."""
    if dispute.status != "needs_response":
        raise unexpected_state(dispute.status, "updated", "dispute")
    if now() >= dispute.due_by:
        raise ApiError(409, "invalid_request_error", "dispute_past_due",
                       f"This dispute's evidence was due by {dispute.due_by}; it can no longer be updated.")
    dispute.evidence = {**(dispute.evidence or {}), **evidence}
    if submit:
        _move(dispute, "under_review", "submitted")
        dispute.submission_count += 1
    events.emit("dispute.updated", dispute.to_dict())
    return dispute


def close(dispute: Dispute, outcome: str) -> Dispute:
    """The issuer's decision: an open dispute -> won (money and fee back) or lost (kept withdrawn)."""
    _move(dispute, outcome, f"closed as {outcome}")
    if outcome == "won":  # the amount and the fee come back (WITHDRAWN)
        balance_transactions.record("dispute_reversal", dispute.id, dispute.amount,
                                    -dispute.fee_amount, dispute.currency,
                                    charge=dispute.payment_session_id, description=f"Chargeback {dispute.id} won")
    events.emit("dispute.closed", dispute.to_dict())
    return dispute


def withdrawn() -> dict[str, int]:
    """Minor units per currency that disputes hold out of the balance: amount + fee each."""
    rows = db.session.execute(
        db.select(Dispute.currency, db.func.sum(Dispute.amount + Dispute.fee_amount))
        .where(Dispute.status.in_(WITHDRAWN)).group_by(Dispute.currency))
    return {currency: amount for currency, amount in rows}
