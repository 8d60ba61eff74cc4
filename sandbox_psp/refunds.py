"""Refunds of captured sessions: never more than captured minus already refunded."""
from . import balance_transactions, disputes, events
from .errors import invalid, missing, unexpected_state
from .models import PaymentSession, Refund, db, new_id, now

REASONS = ("duplicate", "fraudulent", "requested_by_customer")


def create(session: PaymentSession, amount: int | None, reason: str | None, metadata: dict) -> Refund:
    """Refund `amount` (default: all that is left) of a captured session."""
    if session.status not in ("captured", "partially_captured"):
        raise unexpected_state(session.status, "refunded")
    if disputes.is_disputed(session):  # the money is already back with the buyer, or held
        raise invalid("payment_session", f"Payment session {session.id} has been disputed.",
                      "charge_disputed")
    remaining = session.amount_captured - session.amount_refunded
    if remaining == 0:
        raise invalid("payment_session", f"Payment session {session.id} has already been refunded.",
                      "charge_already_refunded")
    amount = remaining if amount is None else amount
    if amount > remaining:
        raise invalid("amount", f"Refund amount {amount} is more than the {remaining} left to refund.",
                      "amount_too_large")
    refund = Refund(id=new_id("re"), created=now(), payment_session_id=session.id, amount=amount,
                    currency=session.currency, status="succeeded", reason=reason, metadata_=metadata)
    session.amount_refunded += amount
    db.session.add(refund)
    balance_transactions.record("refund", refund.id, -amount, 0, refund.currency,
                                charge=session.id, description=f"Refund of {session.id}")
    events.emit("refund.succeeded", refund.to_dict())
    return refund


def get(refund_id: str) -> Refund:
    """A refund by id, or a 404 ApiError."""
    refund = db.session.get(Refund, refund_id)
    if refund is None:
        raise missing("refund", refund_id)
    return refund


def fail_late(refund: Refund) -> Refund:
    """Test helper: a succeeded refund the bank returns later (closed card account, say).

    The money comes back to the balance (`amount_refunded` shrinks) and `refund.failed` is
    emitted, as Stripe does when a refund fails after it had succeeded.
    """
    if refund.status != "succeeded":
        raise unexpected_state(refund.status, "failed", "refund")
    session = db.session.get(PaymentSession, refund.payment_session_id)
    session.amount_refunded -= refund.amount
    refund.status = "failed"
    balance_transactions.record("refund_failure", refund.id, refund.amount, 0, refund.currency,
                                charge=refund.payment_session_id,
                                description=f"Refund {refund.id} failed")
    events.emit("refund.failed", refund.to_dict())
    return refund
