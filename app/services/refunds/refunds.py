"""Refunds through the PSP and the ledger, exactly once.

1. Reserve: under the payment's row lock, plan the refund against what is still refundable
   (PENDING refunds count, so concurrent requests never promise more than was captured) and
   commit the Refund row with its idempotency key.
2. Ask the PSP, outside any transaction, with that key (a retry repeats the same request).
3. Settle in one transaction: lock payment and refund → refund transition → ledger posting
   (intent "refund:<id>") → escrow holds → payment amount and status → audit → case timeline →
   notifications. The PSP's answer, its webhooks and the re-fetch job all settle through
   `settlement.apply`, which acts only on a move the refund's state table allows.
"""
from __future__ import annotations

import re
import secrets
from datetime import timedelta

from sqlalchemy import or_, select

from app.clock import now
from app.database import locked, unit_of_work
from app.domain.money import Money, format_money
from app.domain.payment_states import PaymentStatus
from app.domain.refund_states import REQUESTERS, RefundStatus
from app.extensions import db, queues
from app.keyset import Page, paginate
from app.models import Payment
from app.models.escrow import EscrowHold
from app.models.refunds import Refund, RefundLine
from app.models.webhooks import InboxStatus
from app.providers.base import ProviderError, ProviderEvent, ProviderRefund
from app.providers.registry import get_provider
from app.services import audit, inbox
from app.services.audit import Actor
from app.services.errors import Conflict, NotFound, ServiceError
from app.services.money import escrow
from app.services.money.clawbacks import after_commit
from app.services.refunds import plans, settlement
from app.services.refunds.plans import (  # noqa: F401  (re-exported: the public interface)
    LineAllocation,
    LinePlan,
    RefundPlan,
    allocations,
    build,
    check_refundable,
    check_seller_covers,
    choose,
    plan,
)

R = RefundStatus
S = PaymentStatus
RETRY_SECONDS = 30


class RefundFailed(ServiceError):
    """The PSP refused the refund: nothing was refunded or posted."""

    status = 502

    def __init__(self, message: str, refund_id: int):
        super().__init__(message)
        self.refund_id = refund_id


INTENT = re.compile(r"rf_[0-9a-f]{32}")


def mint_intent() -> str:
    """A one-time key for a refund a person is previewing: the confirmation carries it, and it
    becomes the refund's idempotency key, so posting the same confirmation twice refunds once."""
    return f"rf_{secrets.token_hex(16)}"


def is_intent(text: str | None) -> bool:
    """True when `text` has the shape of a key from mint_intent."""
    return bool(text) and INTENT.fullmatch(text) is not None


def request_refund(payment_id: int, *, lines: dict[int, int] | None = None, amount=None,
                   reason: str, actor: Actor, by: str, case_id: int | None = None,
                   intent_key: str | None = None) -> Refund:
    """Refund lines ({order_line_id: amount}), an amount spread over the lines, or (neither)
    everything left; returns the Refund, SUCCEEDED or still PENDING; raises RefundFailed.
    `intent_key` (from mint_intent, carried by a confirmation form): a second request with the
    same key returns the first one's refund instead of making another."""
    try:
        refund_id = _reserve(payment_id, lines, amount, reason, actor, by, case_id, intent_key)
    except ServiceError as exc:
        if by == "support":
            # A refused staff action is recorded too (PCI DSS 10.2.1), in its own transaction.
            with unit_of_work():
                audit.record(actor, "refund.requested", f"payment:{payment_id}",
                             outcome="failure", reason=exc.message)
        raise
    refund = submit(refund_id, actor)
    if refund.state == R.FAILED:
        why = (refund.failure_reason or "").rstrip(".")
        raise RefundFailed(f"The refund was not made: {why}. Nothing was refunded.", refund.id)
    return refund


def _reserve(payment_id: int, lines, amount, reason: str, actor: Actor, by: str,
             case_id: int | None, intent_key: str | None = None) -> int:
    if by not in REQUESTERS:
        raise ServiceError(f"Unknown requester {by!r}.")
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError("Say why the money goes back to the buyer.")
    seller_id = None
    if by == "seller":
        if actor.user_id is None:
            raise NotFound("No such order line.")
        seller_id = actor.user_id
    with unit_of_work():
        # The payment's row lock serialises every refund of it: the reservation below sees
        # every other PENDING or SUCCEEDED refund.
        payment = locked(Payment, payment_id)
        if intent_key is not None:
            if not is_intent(intent_key):
                raise ServiceError("This confirmation is not valid; preview the refund again.")
            # Under the payment's lock: a second post of the same confirmation finds the first.
            earlier = db.session.execute(select(Refund).where(
                Refund.idempotency_key == intent_key)).scalar_one_or_none()
            if earlier is not None:
                if earlier.payment_id != payment_id:
                    raise Conflict("This confirmation belongs to another refund.")
                return earlier.id
        payment = check_refundable(payment)
        result = build(payment, choose(payment, lines=lines, amount=amount, seller_id=seller_id))
        if seller_id is not None:
            check_seller_covers(result, seller_id)
        refund = Refund(payment_id=payment.id, case_id=case_id, provider=payment.provider,
                        amount=result.total, currency=payment.currency, reason=reason[:255],
                        requested_by=by, actor_id=actor.user_id,
                        idempotency_key=intent_key or mint_intent())
        db.session.add(refund)
        db.session.flush()
        db.session.add_all(RefundLine(refund_id=refund.id, order_line_id=line.order_line_id,
                                      hold_id=line.hold_id, seller_id=line.seller_id,
                                      amount=line.amount, fee_returned=line.fee_returned,
                                      paid_amount=line.paid, paid_margin=line.paid_margin,
                                      paid_tax=line.paid_tax)
                           for line in result.lines)
        audit.record(actor, "refund.requested", f"refund:{refund.id}", payment=payment.id,
                     amount=result.total, currency=payment.currency, by=by, case=case_id,
                     lines={line.order_line_id: line.amount for line in result.lines})
        return refund.id


def submit(refund_id: int, actor: Actor) -> Refund:
    """Send a PENDING refund to the PSP with its stored key and apply the answer; safe to repeat."""
    refund = db.session.get(Refund, refund_id)
    if refund.state != R.PENDING:
        return refund
    payment = db.session.get(Payment, refund.payment_id)
    sent_before = _mark_sent(refund_id)
    try:
        report = get_provider(refund.provider).refund(
            payment.psp_reference, refund.amount, refund.idempotency_key,
            metadata={"holdfast_refund": refund.idempotency_key})
    except ProviderError as exc:
        if exc.executed is False and (not sent_before or refused_for_good(exc)):
            # The PSP's own words when it answered (they say what is wrong); a transport
            # error's details are ours, not the person's.
            why = str(exc) if exc.status else "the payment provider could not be reached"
            return settle(refund_id, ProviderRefund(refund.psp_reference or "",
                                                    payment.psp_reference or "", "failed",
                                                    refund.amount, refund.currency, why),
                          actor, f"refused by the PSP: {exc.code}")
        # Timed out, answered unreadably, or refused in words that do not settle the key's
        # history (409 while it runs, 429, a retryable refusal) after an earlier attempt may
        # have executed (`executed` speaks for one call; the key's history is longer): the
        # PSP may have refunded. Stay PENDING; the job repeats the request with the same
        # key until the PSP itself tells us how it ended.
        schedule_settle(refund_id)
        db.session.expire(refund)
        return refund
    refund = settle(refund_id, report, actor, "answer to our refund request")
    if refund.state == R.PENDING:
        schedule_settle(refund_id)
    return refund


def refused_for_good(exc: ProviderError) -> bool:
    """A refusal of a keyed request that speaks for the key's whole history. Every provider
    answers a retried key with what its first execution did (Stripe and the sandbox replay the
    key's saved result; the Braintree client finds the key's refund before refunding), so a
    business refusal now (a 4xx, but not 409 — the key's first request still running — nor
    429) means no attempt with this key ever executed."""
    return (exc.executed is False and not exc.retryable and exc.status is not None
            and 400 <= exc.status < 500 and exc.status not in (409, 429))


def _mark_sent(refund_id: int) -> bool:
    """Record, before the call, that the refund's key goes to the PSP; True when it had gone
    before (then only the PSP's record of that key may say the refund failed)."""
    with unit_of_work():
        refund = locked(Refund, refund_id)
        if refund.sent_at is not None:
            return True
        refund.sent_at = now()
        return False


def refresh(refund_id: int, actor: Actor) -> Refund:
    """Ask the PSP how a PENDING refund ended (re-sending it if we never learnt its id)."""
    refund = db.session.get(Refund, refund_id)
    if refund is None or refund.state != R.PENDING or refund.needs_review:
        return refund
    if not refund.psp_reference:
        return submit(refund_id, actor)
    report = get_provider(refund.provider).retrieve_refund(refund.psp_reference)
    refund = settle(refund_id, report, actor, "re-fetched from the PSP")
    if refund.state == R.PENDING:
        schedule_settle(refund_id)
    return refund


def schedule_settle(refund_id: int) -> None:
    """Re-fetch the refund soon (one pending job per refund)."""
    queues.enqueue_in(timedelta(seconds=RETRY_SECONDS), "app.jobs.refunds.settle_refund",
                      refund_id, job_id=f"refund-settle-{refund_id}")


def pending_ids(older_than: timedelta = timedelta(minutes=2)) -> list[int]:
    """PENDING refunds the PSP has not settled for a while (for the sweep job)."""
    # A refund under review (its answer contradicts the request) waits for a person: asking
    # the PSP again every run would only flag it again.
    return list(db.session.execute(select(Refund.id).where(
        Refund.status == R.PENDING.value, Refund.needs_review.is_(False),
        Refund.created_at < now() - older_than).order_by(Refund.id)).scalars())


# A succeeded refund can fail at the bank weeks later, and that webhook can be lost: the sweep
# asks the PSP about each one daily while it may still fail.
LATE_FAILURE_WINDOW = timedelta(days=30)
RECHECK_EVERY = timedelta(days=1)


def recheck_due() -> list[int]:
    """SUCCEEDED refunds young enough to fail late and not asked about for a day."""
    cutoff = now() - RECHECK_EVERY
    return list(db.session.execute(select(Refund.id).where(
        Refund.status == R.SUCCEEDED.value, Refund.psp_reference.is_not(None),
        Refund.settled_at >= now() - LATE_FAILURE_WINDOW, Refund.settled_at < cutoff,
        or_(Refund.checked_at.is_(None), Refund.checked_at < cutoff)).order_by(Refund.id))
        .scalars())


def recheck(refund_id: int, actor: Actor) -> Refund:
    """Ask the PSP whether a succeeded refund failed late; a failure is reversed once."""
    refund = db.session.get(Refund, refund_id)
    report = get_provider(refund.provider).retrieve_refund(refund.psp_reference)
    refund = settle(refund_id, report, actor, "re-checked for a late failure")
    with unit_of_work():
        locked(Refund, refund_id).checked_at = now()
    db.session.refresh(refund)
    return refund


def settle(refund_id: int, report: ProviderRefund, actor: Actor, cause: str,
           inbox_id: int | None = None) -> Refund:
    """Apply the PSP's view of a refund in one transaction; returns the refund."""
    with unit_of_work():
        payment_id = db.session.execute(select(Refund.payment_id).where(
            Refund.id == refund_id)).scalar_one()
        payment = locked(Payment, payment_id)  # always payment before refund: no deadlock
        refund = locked(Refund, refund_id)
        outcome = settlement.apply(payment, refund, report, actor, cause)
        if inbox_id is not None:
            inbox.mark(inbox_id, InboxStatus.PROCESSED, f"refund {refund.id}: {outcome}")
    if outcome == "succeeded":
        # After the commit: a clawback past zero from a Stripe-connected seller is reversed
        # from their transfers (the periodic "connect" sweep catches it if Redis is down).
        after_commit(f"refund:{refund_id}")
    db.session.refresh(refund)
    return refund


def book_made_at_psp(payment_id: int, report: ProviderRefund, actor: Actor,
                     reason: str) -> Refund:
    """Book a refund the PSP already made outside Holdfast (its dashboard), found by
    reconciliation: split over the lines by the written refund policy (plans), as support's
    refund of that amount would be, and settled from the PSP's own report — no PSP call.
    Repeating it finds the refund booked the first time."""
    existing = db.session.execute(select(Refund.id).where(
        Refund.payment_id == payment_id, Refund.psp_reference == report.reference)
    ).scalar_one_or_none()
    if existing is None:
        existing = _reserve(payment_id, None, report.amount, reason, actor, "support", None)
    return settle(existing, report, actor, f"made at the PSP ({report.reference})")


# --- for chargebacks: book a lost dispute on the lines the way a refund is booked ----------

def allocate_lines(payment_id: int, amount: int) -> list[LineAllocation]:
    """`amount` spread over the payment's lines (caller's transaction; no checks on status)."""
    payment = db.session.get(Payment, payment_id)
    if payment is None:
        raise NotFound("No such payment.")
    return allocations(payment, amount)


def record_line_loss(hold_id: int, amount: int, fee_returned: int) -> None:
    """Mark part of a line as gone to the buyer (a lost chargeback), in the caller's
    transaction; the caller posts the ledger."""
    hold = locked(EscrowHold, hold_id)
    if hold is None:
        raise NotFound("No such escrow hold.")
    escrow.take_back(hold, amount, fee_returned)


# --- webhooks -------------------------------------------------------------------------------

class RefundNotYetKnown(Exception):
    """A refund event arrived before our own request learnt the PSP's refund id: retry later."""


def apply_refund_event(inbox_id: int, provider_name: str, event: ProviderEvent,
                       actor: Actor) -> None:
    """refund.succeeded / refund.failed: re-fetch the refund from the PSP and settle it once."""
    event_type, object_id = event.type, event.object_id
    report = get_provider(provider_name).retrieve_refund(object_id)
    refund_id = db.session.execute(select(Refund.id).where(
        Refund.provider == provider_name, Refund.psp_reference == report.reference)
    ).scalar_one_or_none()
    if refund_id is not None:
        settle(refund_id, report, actor, f"webhook {event_type}", inbox_id=inbox_id)
        return
    payment = db.session.execute(select(Payment).where(
        Payment.provider == provider_name, Payment.psp_reference == report.payment_reference)
    ).scalar_one_or_none()
    if payment is not None and db.session.execute(select(Refund.id).where(
            Refund.payment_id == payment.id, Refund.status == R.PENDING.value,
            Refund.psp_reference.is_(None)).limit(1)).first():
        raise RefundNotYetKnown(f"{object_id}: our request has not recorded it yet")
    _unknown_refund(inbox_id, payment, report, event_type, actor)


def _unknown_refund(inbox_id: int, payment: Payment | None, report: ProviderRefund,
                    event_type: str, actor: Actor) -> None:
    # A refund made outside the platform (the PSP's dashboard) moved money our ledger does not
    # know about, on lines nobody chose: support must book it, so the payment needs review.
    # Without a payment of ours there is nothing to book: recorded and ignored.
    with unit_of_work():
        if payment is None:
            inbox.mark(inbox_id, InboxStatus.IGNORED,
                                f"refund {report.reference} of no payment of ours")
            return
        payment = locked(Payment, payment.id)
        if payment.give_back:
            # Our own give-back of a duplicate or abandoned payment (services/payments/give_back)
            inbox.mark(inbox_id, InboxStatus.PROCESSED,
                       f"give-back refund {report.reference} of payment {payment.id}")
            return
        if report.status == "succeeded":
            settlement.flag(payment, actor, f"the PSP reports a refund {report.reference} of "
                  f"{format_money(Money(report.amount, report.currency))} that was not made "
                  f"through Holdfast ({event_type})")
        inbox.mark(inbox_id, InboxStatus.PROCESSED,
                            f"unknown refund {report.reference}: payment {payment.id} "
                            f"{'flagged' if report.status == 'succeeded' else 'unchanged'}")


def sold_lines(seller_id: int, limit: int = 50, cursor: str | None = None) -> Page:
    """The seller's captured lines, newest first (what they may refund), one keyset page."""
    return paginate(select(EscrowHold).where(EscrowHold.seller_id == seller_id),
                    [EscrowHold.id], cursor, limit, arg="lines_after")


def for_seller(seller_id: int, limit: int = 50, cursor: str | None = None) -> Page:
    """Parts of refunds on the seller's lines, newest first, one keyset page."""
    return paginate(select(RefundLine).where(RefundLine.seller_id == seller_id),
                    [RefundLine.id], cursor, limit, arg="refunds_after")


def line_room(hold: EscrowHold) -> int:
    """What one line can still refund (PENDING refunds reserve theirs)."""
    payment = captured_payment(hold.order_id)
    return plans.room(hold, plans.pending_by_hold(payment.id)) if payment else 0


def captured_payment(order_id: int) -> Payment | None:
    """The order's captured payment (the one refunds go through), if any."""
    return db.session.execute(select(Payment).where(
        Payment.order_id == order_id, Payment.amount_captured > 0)).scalars().first()
