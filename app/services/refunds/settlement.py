"""Settling a refund in the caller's transaction: what succeeded, failed or was reversed.

Called only by services.refunds.settle, with the payment and the refund locked (in that order).
Each step acts on a move the refund's state table allows, so the PSP's answer, its webhooks and
the re-fetch job may all report the same outcome and it is applied once.
"""
from __future__ import annotations

from app.clock import now
from app.database import locked
from app.domain import ledger as rules
from app.domain.money import Money, format_money
from app.domain.payment_states import PaymentStatus, can_transition
from app.domain.refund_states import RefundStatus, transition
from app.extensions import db
from app.models import DisputeCase, Order, Payment
from app.models.escrow import EscrowHold
from app.models.refunds import Refund
from app.providers.base import ProviderRefund
from app.services import audit, notifications
from app.services.audit import Actor
from app.services.disputes import case_log
from app.services.money import escrow, ledger
from app.services.payments import payments
from app.services.refunds import converted
from app.services.shop import digital

R = RefundStatus
S = PaymentStatus


def apply(payment: Payment, refund: Refund, report: ProviderRefund, actor: Actor,
          cause: str) -> str:
    """Bring the refund to what the PSP reports; returns what happened, for the inbox note."""
    if report.reference and not refund.psp_reference:
        refund.psp_reference = report.reference
    if report.amount != refund.amount or report.currency != refund.currency:
        if refund.needs_review:
            return "needs_review"  # flagged once; a person decides, the sweep leaves it
        reason = (f"the PSP reports refund {refund.id} as "
                  f"{format_money(Money(report.amount, report.currency))}, we asked "
                  f"{format_money(refund.total)}")
        refund.needs_review, refund.review_reason = True, reason
        return flag(payment, actor, reason)
    current = refund.state
    if report.status == "pending":
        return "pending"
    if report.status == "succeeded":
        if current == R.PENDING:
            _succeed(payment, refund, actor, cause)
            return "succeeded"
        if current == R.SUCCEEDED:
            return "unchanged"
        return flag(payment, actor, f"the PSP reports refund {refund.id} succeeded, "
                     f"we recorded it as {current.value}")
    if report.status == "failed":
        why = report.failure_reason or "the PSP reported the refund as failed."
        if current == R.PENDING:
            _fail(refund, why, actor)
            return "failed"
        if current == R.SUCCEEDED:
            _reverse(payment, refund, why, actor)
            return "reversed"
        return "unchanged"
    return flag(payment, actor, f"the PSP reports refund {refund.id} in a status we do not know")


def flag(payment: Payment, actor: Actor, reason: str) -> str:
    """Put the payment in front of support with the reason (caller's transaction)."""
    payment.needs_review, payment.review_reason = True, reason
    audit.record(actor, "payment.needs_review", f"payment:{payment.id}", reason=reason)
    return "needs_review"


def _succeed(payment: Payment, refund: Refund, actor: Actor, cause: str) -> None:
    refund.status = transition(refund.state, R.SUCCEEDED).value
    refund.settled_at = now()
    shares = []
    for line in refund.lines:
        hold = locked(EscrowHold, line.hold_id)
        # Where the money is now decides the accounts, not where it was when asked.
        line.released = hold.released_at is not None
        if not line.amount:
            continue  # a converted part smaller than the line's unit: the platform carries it
        escrow.take_back(hold, line.amount, line.fee_returned)
        shares.append(rules.LineShare(line.seller_id, line.amount, line.fee_returned,
                                      line.released))
    if db.session.get(Order, payment.order_id).plain:
        ledger.post(rules.refund(refund.provider, refund.currency, shares),
                    f"refund:{refund.id}", payment_id=payment.id, psp_ref=refund.psp_reference)
    else:  # converted back at the order's rate, per currency
        converted.post_succeeded(payment, refund)
    payment.amount_refunded += refund.amount
    digital.revoke_refunded([line.hold_id for line in refund.lines], actor)  # issue 17
    # Lines still authorized (per-shipment capture) may yet be charged: not refunded in full.
    full = (payment.amount_refunded == payment.amount_captured
            and payment.state != S.PARTIALLY_CAPTURED)
    _move(payment, S.REFUNDED if full else S.PARTIALLY_REFUNDED, f"refund {refund.id}", actor)
    audit.record(actor, "refund.succeeded", f"refund:{refund.id}", payment=payment.id,
                 amount=refund.amount, cause=cause,
                 clawed_back=sum(s.amount - s.fee_returned for s in shares if s.released))
    money = format_money(refund.total)
    order_id = payment.order_id
    _tell_parties(refund, "refund_succeeded",
                  f"Refund of {money} for order #{order_id}",
                  f"{money} is on its way back to your card for order #{order_id}. "
                  f"Banks usually show it within 5–10 business days.",
                  f"{money} of order #{order_id} was refunded to the buyer: {refund.reason}")
    _log_on_case(refund, "ledger", f"Refund of {money} sent to the buyer.", refund.amount)


def _fail(refund: Refund, why: str, actor: Actor) -> None:
    refund.status = transition(refund.state, R.FAILED).value
    refund.settled_at, refund.failure_reason = now(), why
    audit.record(actor, "refund.failed", f"refund:{refund.id}", reason=why)
    if refund.actor_id is not None:
        notifications.notify(refund.actor_id, "refund_failed",
                             f"Refund of {format_money(refund.total)} failed",
                             f"The payment provider did not refund order "
                             f"#{refund.payment.order_id}: {why} Nothing was refunded.")
    _log_on_case(refund, "psp_event", f"The refund of {format_money(refund.total)} failed at "
                 f"the payment provider: {why}", 0)


def _reverse(payment: Payment, refund: Refund, why: str, actor: Actor) -> None:
    refund.status = transition(refund.state, R.REVERSED).value
    refund.reversed_at, refund.failure_reason = now(), why
    money = format_money(refund.total)
    note = f"refund {refund.id} of {money} failed after it had succeeded"
    shares = []
    for line in refund.lines:
        hold = locked(EscrowHold, line.hold_id)
        if not line.amount:
            continue  # the platform carried this part; no seller money moved
        # The money comes back to where the line's money is now (escrow or the seller).
        shares.append(rules.LineShare(line.seller_id, line.amount, line.fee_returned,
                                      hold.released_at is not None))
        escrow.give_back(hold, line.amount, line.fee_returned, actor, note)
    if db.session.get(Order, payment.order_id).plain:
        ledger.post(rules.refund_reversed(refund.provider, refund.currency, shares),
                    f"refund_reversed:{refund.id}", payment_id=payment.id,
                    psp_ref=refund.psp_reference)
    else:
        converted.post_reversed(payment, refund)
    payment.amount_refunded -= refund.amount
    _move(payment, S.PARTIALLY_REFUNDED if payment.amount_refunded else S.CAPTURED,
          f"refund {refund.id} reversed", actor)
    payment.needs_review = True
    payment.review_reason = (f"Refund {refund.id} of {money} failed at the PSP after it had "
                             f"succeeded ({why}): the buyer did not get the money back. Decide "
                             f"whether to refund again.")
    audit.record(actor, "refund.reversed", f"refund:{refund.id}", payment=payment.id,
                 amount=refund.amount, reason=why)
    _tell_parties(refund, "refund_reversed", f"Refund for order #{payment.order_id} failed",
                  f"The refund of {money} for order #{payment.order_id} could not be "
                  f"completed by the bank. Our support team is looking into it.",
                  f"The refund of {money} on order #{payment.order_id} failed at the bank; the "
                  f"money is back with your sale and support will decide what happens next.")
    _log_on_case(refund, "psp_event", f"The refund of {money} failed at the payment provider "
                 f"after it had succeeded ({why}); the money is back and the payment needs "
                 f"review.", -refund.amount)


def _move(payment: Payment, target: PaymentStatus, cause: str, actor: Actor) -> None:
    # A payment under chargeback keeps that status: the dispute outcome moves it on.
    if payment.state != target and payment.state != S.DISPUTED \
            and can_transition(payment.state, target):
        payments.record_change(payment, target, cause, actor)


def _tell_parties(refund: Refund, kind: str, subject: str, buyer_body: str,
                  seller_body: str) -> None:
    order = db.session.get(Order, refund.payment.order_id)
    notifications.notify(order.buyer_id, kind, subject, buyer_body)
    for seller_id in sorted({line.seller_id for line in refund.lines}):
        notifications.notify(seller_id, kind, subject, seller_body)


def _log_on_case(refund: Refund, kind: str, body: str, amount: int) -> None:
    if refund.case_id is None:
        return
    case = db.session.get(DisputeCase, refund.case_id)
    if case is not None:
        case_log.log(case, kind, "psp" if kind == "psp_event" else "system", body,
                     refund_id=refund.id, amount=amount, currency=refund.currency,
                     status=refund.status)
