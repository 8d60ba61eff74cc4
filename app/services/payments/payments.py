"""Apply what a PSP reports to a payment: lock, transition, record, commit — then enqueue.

This is the one place a payment's status changes after checkout created it. Reports arrive from
webhooks (late, duplicated, out of order), from re-fetches and from our own API calls; all of
them go through `apply_report`, which only ever moves a payment forward.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from redis.exceptions import RedisError
from sqlalchemy import select

from app.clock import now
from app.database import locked, retry_transient, unit_of_work
from app.domain.order_states import MONEY_TAKEN, following_payment
from app.domain.order_states import transition as order_transition
from app.domain.payment_states import (
    PAID,
    RELEASES_STOCK,
    REVERSALS,
    PaymentStatus,
    can_transition,
    is_behind,
    transition,
)
from app.extensions import db, queues
from app.models import Item, Order, OrderLine, OrderStatus, Payment, PaymentStatusChange
from app.models.captures import LineCapture
from app.models.webhooks import InboxStatus
from app.providers.base import ProviderError, ProviderEvent, ProviderPayment
from app.providers.registry import get_provider
from app.services import audit, inbox, order_emails
from app.services.audit import Actor
from app.services.errors import ServiceError
from app.services.fraud import screening
from app.services.money.escrow import hold_captured
from app.services.payments import give_back, vault
from app.services.shop import digital

S = PaymentStatus


@dataclass(frozen=True)
class Outcome:
    """What applying a report did: "moved", "unchanged", "stale" or "needs_review"."""

    result: str
    status: PaymentStatus
    detail: str = ""


def record_change(payment: Payment, target: PaymentStatus, cause: str, actor: Actor) -> None:
    """Move the payment through the table and log it twice: history + audit.

    A move the table refuses raises ForbiddenMove before anything is written here; the caller's
    unit of work rolls back whatever it wrote before, so nothing is left half-done.
    """
    before = payment.status
    payment.status = transition(payment.state, target).value
    db.session.add(PaymentStatusChange(payment_id=payment.id, from_status=before,
                                       to_status=target.value, cause=cause[:120]))
    audit.record(actor, "payment.status_changed", f"payment:{payment.id}",
                 before=before, after=target.value, cause=cause)
    _order_follows(payment, PaymentStatus(before), target)


def _order_follows(payment: Payment, before: PaymentStatus, target: PaymentStatus) -> None:
    """A paid order's status follows its money (refunds, chargebacks), so the buyer's screens
    say what the ledger says; only the order's current payment speaks for it, and never one
    being given back (a duplicate's refund or void is not the order's money moving)."""
    follow = following_payment(before, target)
    if follow is None:
        return
    order = locked(Order, payment.order_id)
    if order.state not in MONEY_TAKEN or order.current_payment.id != payment.id \
            or payment.give_back is not None or order.state == follow:
        return
    order.status = order_transition(order.state, follow).value


def _copy_facts(payment: Payment, report: ProviderPayment) -> None:
    # Amounts only grow: a stale report must not shrink what a newer one said. The refunded
    # amount is not copied: services.refunds owns it, together with its ledger posting.
    payment.amount_authorized = max(payment.amount_authorized, report.amount_authorized)
    payment.amount_captured = max(payment.amount_captured, report.amount_captured)
    payment.amount_authorized = max(payment.amount_authorized, payment.amount_captured)
    if report.fee_amount is not None:
        payment.psp_fee_amount = report.fee_amount
    if report.card.last4:
        payment.card_brand, payment.card_last4 = report.card.brand, report.card.last4
        payment.card_exp_month, payment.card_exp_year = report.card.exp_month, report.card.exp_year


def captured_by_line(payment: Payment) -> bool:
    """Whether the payment is captured line by line (services/payments/captures), which then
    holds and posts each capture itself."""
    return db.session.execute(select(LineCapture.id).where(
        LineCapture.payment_id == payment.id).limit(1)).first() is not None


def _has_digital_line(order_id: int) -> bool:
    """Whether the order has a line delivered at capture (one indexed look). Orders with none
    skip the digital delivery and its fulfilment check: a paid order of physical lines only
    moves on when they ship, which moves it itself (services/shop/fulfilment)."""
    return db.session.execute(select(OrderLine.id).join(Item, Item.id == OrderLine.item_id)
                              .where(OrderLine.order_id == order_id,
                                     Item.fulfilment != "physical").limit(1)).first() is not None


def _settle_order(payment: Payment, target: PaymentStatus) -> bool:
    """The order follows its payment; True when a whole capture was held here (the caller
    then delivers its digital lines), False for a capture made line by line."""
    whole = target == S.CAPTURED and not captured_by_line(payment)
    if whole:
        hold_captured(payment)  # escrow per line + the capture posting, in this transaction
    order = locked(Order, payment.order_id)
    if target == S.AUTHORIZED and screening.holds_order(payment):
        return whole  # held for review (or being voided): not paid until a person approves
    if target in PAID and order.state not in MONEY_TAKEN:
        order.status, order.paid_at = order_transition(order.state, OrderStatus.PAID).value, now()
        order_emails.order_paid(order, payment)  # receipt to the buyer, new sale to sellers
    elif (target in RELEASES_STOCK and order.state == OrderStatus.AWAITING_PAYMENT
          and order.current_payment.id == payment.id):
        # Only the latest attempt decides: a session replaced by a new one must not cancel.
        order.status = order_transition(order.state, OrderStatus.CANCELLED).value
        release_stock(order)
    return whole


def _keep_card_if_asked(payment: Payment, report: ProviderPayment, current: PaymentStatus,
                        target: PaymentStatus, actor: Actor) -> None:
    """The buyer ticked "Save my card": once the card has paid, the PSP's reusable method goes
    to the vault — on the first move into a paid status only, so a card the buyer removed
    meanwhile is not saved again by a later report."""
    method = report.reusable_method
    if not payment.save_payment_method or method is None or current in PAID or target not in PAID:
        return
    try:
        vault.store(payment.order.buyer_id, payment.provider, method.token, method.brand,
                    method.last4, method.exp_month, method.exp_year, method.fingerprint, actor)
    except ServiceError as exc:
        # The payment itself is fine: record it, never fail it for the convenience feature.
        audit.record(actor, "vault.method_saved", f"payment:{payment.id}", outcome="failure",
                     reason=exc.message)


def release_stock(order: Order) -> None:
    """Put the order's reserved units back on sale, once."""
    if order.stock_released:
        return
    for line in order.lines:
        item = locked(Item, line.item_id)
        item.stock += line.quantity
    order.stock_released = True


# Refunded statuses belong to services.refunds, which moves them with the refund's posting: a
# payment report saying "refunded" only tells us the payment was captured.
REFUND_OWNED = frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED})


@retry_transient
def apply_report(payment_id: int, report: ProviderPayment, cause: str, actor: Actor,
                 *, inbox_id: int | None = None,
                 override: PaymentStatus | None = None) -> Outcome:
    """Bring the payment forward to what the PSP reports, in one transaction."""
    capture_after_commit = give_back_after_commit = False
    held = None
    with unit_of_work():
        payment = locked(Payment, payment_id)
        current = payment.state
        target = override or report.status
        if target in REFUND_OWNED:
            target = S.CAPTURED
        _copy_facts(payment, report)
        with db.session.no_autoflush:
            # Its query reads the order's other payments only: the facts just copied onto this
            # one go out with its status change, one UPDATE instead of two.
            why = give_back.detect(payment, current, target)
        if why is not None:
            # Money on a payment that must not keep it: booked apart, given back by a job.
            give_back_after_commit = give_back.record(payment, why, current, target, cause,
                                                      actor)
            outcome = Outcome("given_back", payment.state, why)
        elif target is None:
            payment.needs_review = True
            payment.review_reason = f"the PSP reported an unknown status {report.raw_status!r}"
            audit.record(actor, "payment.needs_review", f"payment:{payment.id}",
                         raw_status=report.raw_status, cause=cause)
            outcome = Outcome("needs_review", current, payment.review_reason)
        elif target == current and target != S.DECLINED:
            outcome = Outcome("unchanged", current)
        elif current == S.DISPUTED and override is None:
            # Only the chargeback's own outcome moves a disputed payment: a payment report
            # ("captured") says nothing about the dispute, which may still be open.
            outcome = Outcome("stale", current, f"{target.value} while a chargeback is open")
        elif (current, target) in REVERSALS:
            # Only services.refunds undoes a refund, with its posting: a report of "captured"
            # (refunds are stripped above) on a refunded or chargeback-lost payment is stale.
            outcome = Outcome("stale", current, f"{target.value} after {current.value}")
        elif can_transition(current, target):
            if target == S.DECLINED:
                payment.decline_code, payment.failure_message = (report.decline_code,
                                                                 report.failure_message)
            # Fraud screening on the PSP's verdict: review and block are never captured.
            held = screening.on_report(payment, report, current, target, actor)
            if target != current:
                record_change(payment, target, cause, actor)
                if _settle_order(payment, target) and _has_digital_line(payment.order_id):
                    digital.deliver_paid(payment, actor)  # digital lines: at once (issue 17)
                _keep_card_if_asked(payment, report, current, target, actor)
            capture_after_commit = (target == S.AUTHORIZED and held is None
                                    and current_app.config["AUTO_CAPTURE"])
            outcome = Outcome("moved", target)
        elif is_behind(current, target):
            outcome = Outcome("stale", current, f"{target.value} arrived after {current.value}")
        else:
            payment.needs_review = True
            payment.review_reason = f"the PSP reports {target.value} while we have {current.value}"
            audit.record(actor, "payment.needs_review", f"payment:{payment.id}",
                         reported=target.value, cause=cause)
            outcome = Outcome("needs_review", current, payment.review_reason)
        if inbox_id is not None:
            inbox.mark(inbox_id, InboxStatus.PROCESSED, f"{outcome.result}: {outcome.status}")
    if capture_after_commit:
        queues.enqueue("app.jobs.payments.capture_payment", payment_id,
                       job_id=f"capture-{payment_id}")
    if held == screening.Action.BLOCK:
        queues.enqueue("app.jobs.fraud.void_blocked", payment_id, job_id=f"fraud-void-{payment_id}")
    if give_back_after_commit:
        queues.enqueue("app.jobs.payments.give_back_payment", payment_id,
                       job_id=f"give-back-{payment_id}")
    return outcome


def find_payment(provider_name: str, object_id: str | None, our_reference: str | None):
    """The payment an event is about, as (id, psp_reference), or None. Only those two:
    apply_report reads the row itself, under its lock."""
    if not object_id:
        return None
    found = db.session.execute(select(Payment.id, Payment.psp_reference).where(
        Payment.provider == provider_name, Payment.psp_reference == object_id)).one_or_none()
    if found is None and our_reference:
        # e.g. a Stripe PaymentIntent event: its id is not the session id we stored.
        found = db.session.execute(select(Payment.id, Payment.psp_reference).where(
            Payment.provider == provider_name, Payment.idempotency_key == our_reference)
        ).one_or_none()
    return found


def apply_payment_event(inbox_id: int, provider_name: str, event: ProviderEvent,
                        actor: Actor) -> Outcome | None:
    """A payment's webhook: find the payment, re-fetch it from the PSP, bring it forward."""
    found = find_payment(provider_name, event.object_id, event.our_reference)
    if found is None or found.psp_reference is None:
        inbox.ignore(inbox_id, f"no payment for {event.type} {event.object_id}")
        return None
    payment = found
    provider = get_provider(provider_name)
    try:
        # Events arrive out of order: the PSP's current object is the truth, not the snapshot.
        report = provider.retrieve(payment.psp_reference)
    except ProviderError:
        report = provider.payment_in_event(event.payload)
        if report is None:
            raise
    return apply_report(payment.id, report, f"webhook {event.type} {event.event_id}", actor,
                        inbox_id=inbox_id)


def schedule_expiry(payment_id: int, ttl_seconds: int) -> None:
    """Ask a worker to expire the session if the buyer abandons it."""
    _timer(ttl_seconds, "app.jobs.payments.expire_payment", payment_id, f"expire-{payment_id}")


def schedule_refresh(payment_id: int, delay_seconds: int = 15) -> None:
    """Re-fetch from the PSP soon, in case its webhook never arrives (one pending per payment)."""
    _timer(delay_seconds, "app.jobs.payments.refresh_payment", payment_id,
           f"refresh-{payment_id}")


def _timer(seconds: int, func: str, payment_id: int, job_id: str) -> None:
    # Only a shortcut: the payment sweeper (jobs/payments.sweep_payments) owns every session
    # past its expiry and every payment being re-fetched. With Redis down, the state is already
    # committed and the PSP already answered: failing the buyer's request now (seed 0 of the
    # simulation: checkout answered 500 with a live session) would only hide where to pay.
    try:
        queues.enqueue_in(timedelta(seconds=seconds), func, payment_id, job_id=job_id)
    except RedisError as exc:
        current_app.logger.warning("could not schedule %s (Redis: %s); the payment sweeper "
                                   "owns payment %s", job_id, exc, payment_id)


def unknown_payments() -> list[Payment]:
    """Payments whose outcome we don't know (for the janitor and for support)."""
    return db.session.execute(
        select(Payment).where(Payment.status == S.UNKNOWN.value).order_by(Payment.id)
    ).scalars().all()


@retry_transient
def flag_for_review(payment_id: int, reason: str, actor: Actor) -> None:
    """Put a payment in front of support without changing its status."""
    with unit_of_work():
        payment = locked(Payment, payment_id)
        payment.needs_review, payment.review_reason = True, reason
        audit.record(actor, "payment.needs_review", f"payment:{payment.id}", reason=reason)


@retry_transient
def apply_report_without_psp(payment_id: int, target: PaymentStatus, actor: Actor,
                             cause: str) -> Outcome:
    """Move a payment the PSP never saw (no session) — to EXPIRED, CANCELLED or FAILED."""
    with unit_of_work():
        payment = locked(Payment, payment_id)
        if not can_transition(payment.state, target):
            return Outcome("stale", payment.state)
        record_change(payment, target, cause, actor)
        _settle_order(payment, target)
        return Outcome("moved", target)


@retry_transient
def attach_session(payment_id: int, report: ProviderPayment) -> None:
    """Remember the PSP's session id and its buyer-facing URLs."""
    with unit_of_work():
        payment = locked(Payment, payment_id)
        payment.psp_reference = report.reference
        payment.redirect_url, payment.embed_url = report.redirect_url, report.embed_url
