"""Money a PSP took on a payment that must not keep it, given back automatically.

Two ways it happens: a second payment authorizes an order another payment already paid (a
saved-card double submit, a replacement while the old session was still live) — "duplicate";
or the PSP authorizes a session we had already cancelled, failed or expired here (cancelled
while create_session was in flight) — "abandoned". `detect` runs inside `apply_report`'s
transaction, with the payment and its order locked, so of two payments racing for one order
exactly one pays it. `record` books what the PSP did without touching the order or escrow
(captured money is owed to the buyer: `give_back_captured`), flags the payment for support and
says to queue `run`, which voids the authorization or refunds the capture with keys of its own.
"""
from __future__ import annotations

from sqlalchemy import select

from app.database import locked, unit_of_work
from app.domain import ledger as rules
from app.domain.money import format_money
from app.domain.payment_states import PAID, REVERSALS, PaymentStatus, can_transition
from app.extensions import db
from app.models import Payment
from app.providers.registry import get_provider
from app.services import audit
from app.services.audit import Actor
from app.services.money import ledger

S = PaymentStatus
TAKES_MONEY = frozenset({S.AUTHORIZED, S.PARTIALLY_CAPTURED, S.CAPTURED})
GAVE_UP = frozenset({S.CANCELLED, S.EXPIRED, S.FAILED})


def detect(payment: Payment, current: PaymentStatus, target: PaymentStatus | None) -> str | None:
    """Why this report's money must go back ("duplicate" / "abandoned"), or None (caller's
    transaction, payment locked; locks the order)."""
    if payment.give_back:
        return payment.give_back
    if target not in TAKES_MONEY:
        return None
    if current in GAVE_UP:
        return "abandoned"
    if current in PAID:
        return None
    from app.models import Order

    locked(Order, payment.order_id)  # one payer per order: the second one to get here sees it
    paid_by = db.session.execute(select(Payment.id).where(
        Payment.order_id == payment.order_id, Payment.id != payment.id,
        Payment.status.in_([s.value for s in PAID]), Payment.give_back.is_(None))
        .order_by(Payment.id).limit(1)).scalar_one_or_none()
    if paid_by is None:
        return None
    payment.duplicate_of = paid_by
    return "duplicate"


def record(payment: Payment, why: str, current: PaymentStatus, target: PaymentStatus,
           cause: str, actor: Actor) -> bool:
    """Book what the PSP did on a payment that gives its money back; True when the give-back
    job must run (caller's transaction)."""
    from app.services.payments.payments import record_change

    first = payment.give_back is None
    if first:
        payment.give_back = why
        reason = (f"order #{payment.order_id} was already paid by payment #{payment.duplicate_of}: "
                  if why == "duplicate" else
                  f"the session of order #{payment.order_id} had been {current.value} here: ")
        reason += (f"the PSP reports {format_money(payment.total)} {target.value}; it is "
                   "given back to the buyer automatically.")
        payment.needs_review, payment.review_reason = True, reason
        audit.record(actor, "payment.given_back", f"payment:{payment.id}", why=why,
                     duplicate_of=payment.duplicate_of, reported=target.value, cause=cause)
    if target != current and can_transition(current, target) \
            and (current, target) not in REVERSALS and current not in GAVE_UP:
        record_change(payment, target, cause, actor)  # never the order, never escrow
    booked = False
    if payment.amount_captured > 0:
        booked = ledger.post(rules.give_back_captured(payment.provider, payment.currency,
                                                      payment.amount_captured,
                                                      payment.psp_fee_amount or 0),
                             f"give_back:captured:{payment.id}", payment_id=payment.id,
                             psp_ref=payment.psp_reference)
    return first or booked


def run(payment_id: int, actor: Actor) -> str:
    """Void the authorization, or refund what was captured; safe to repeat (own keys)."""
    from app.services.payments.actions import action_key
    from app.services.payments.payments import apply_report

    payment = db.session.get(Payment, payment_id)
    if payment is None or not payment.give_back or not payment.psp_reference:
        return "nothing to give back"
    provider = get_provider(payment.provider)
    report = provider.retrieve(payment.psp_reference)
    if report.status == S.AUTHORIZED and report.amount_captured == 0:
        voided = provider.void(payment.psp_reference, action_key(payment, "give_back_void"))
        apply_report(payment_id, voided, "given back: authorization voided", actor)
        return "voided"
    owed = report.amount_captured - report.amount_refunded
    if owed > 0:
        answer = provider.refund(payment.psp_reference, owed,
                                 action_key(payment, "give_back_refund"),
                                 metadata={"holdfast_give_back": payment.idempotency_key})
        if answer.status == "failed":
            raise RuntimeError(f"give-back refund of payment {payment_id} failed at the PSP")
        report = provider.retrieve(payment.psp_reference)
    if report.amount_refunded >= report.amount_captured > 0:
        _book_refund(payment_id, report.amount_captured, actor)
        return "refunded"
    return "unchanged"


def _book_refund(payment_id: int, amount: int, actor: Actor) -> None:
    from app.services.payments.payments import record_change

    with unit_of_work():
        payment = locked(Payment, payment_id)
        if not ledger.post(rules.give_back_refunded(payment.provider, payment.currency, amount),
                           f"give_back:refunded:{payment.id}", payment_id=payment.id):
            return
        payment.amount_refunded = amount
        if can_transition(payment.state, S.REFUNDED):
            record_change(payment, S.REFUNDED, "given back: refunded", actor)
        audit.record(actor, "payment.given_back", f"payment:{payment.id}", refunded=amount)
