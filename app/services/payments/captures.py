"""Per-shipment capture (CAPTURE_POLICY=per_shipment): checkout authorizes only; each line is
captured when its seller ships it, and what nobody shipped is voided before the authorization
lapses (app/domain/capture_states.py).

The lines a capture takes are fixed, with their idempotency key, in one commit before the PSP
is asked, so a retried job sends the same request and the PSP captures once. Where the PSP
offers multicapture (the sandbox) each shipment is its own partial capture; elsewhere (Stripe
and Braintree here) one final capture waits until every line shipped or the deadline came,
and releases the rest. Each capture posts its lines' escrow holds in the ledger in the same
transaction that records it.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select

from app.clock import now
from app.database import locked, retry_transient, unit_of_work
from app.domain.capture_states import (
    OPEN,
    LineCaptureStatus,
    is_final,
    transition,
    uses_parts,
    void_deadline,
)
from app.domain.order_states import OrderStatus
from app.domain.order_states import transition as order_transition
from app.domain.payment_states import PaymentStatus, can_transition
from app.extensions import db, queues
from app.models import EscrowHold, Item, Order, Payment
from app.models.captures import LineCapture
from app.models.fulfilment import Shipment
from app.providers.base import ProviderError, ProviderPayment
from app.providers.registry import get_provider
from app.services import audit, notifications
from app.services.audit import Actor
from app.services.money import escrow
from app.services.payments import payments
from app.services.payments.owners import GRACE
from app.services.shop import digital

L = LineCaptureStatus
S = PaymentStatus
# Where the authorization is still open for more captures.
CAPTURING = frozenset({S.AUTHORIZED, S.PARTIALLY_CAPTURED, S.PARTIALLY_REFUNDED, S.DISPUTED})


@dataclass(frozen=True)
class Result:
    """What a run did: "captured", "waiting", "voided" or "unchanged"."""

    result: str
    captured: int = 0
    voided: int = 0


def lines_of(payment_id: int) -> list[LineCapture]:
    """A payment's line captures, by line."""
    return list(db.session.execute(select(LineCapture).where(
        LineCapture.payment_id == payment_id).order_by(LineCapture.order_line_id)).scalars())


def lifetime_days(provider: str) -> int:
    """How long an authorization holds at this PSP (sandbox_us is a sandbox)."""
    table = current_app.config["AUTHORIZATION_LIFETIME_DAYS"]
    return int(table.get(provider, table.get(provider.split("_")[0], 7)))


def awaits_shipment(order: Order) -> bool:
    """Whether this order's card is charged only as its lines ship (so an authorized payment
    is the end of checkout, not a capture still to come)."""
    if lines_of(order.current_payment.id) if order.current_payment else False:
        return True
    physical = sum(1 for line in order.lines if not db.session.get(Item, line.item_id).digital)
    return uses_parts(current_app.config["CAPTURE_POLICY"], physical)


@retry_transient
def plan(payment_id: int, actor: Actor) -> bool:
    """Split an authorized payment into line captures when the policy says so; True when the
    payment is (now or already) captured line by line. Digital lines are due at once."""
    with unit_of_work():
        payment = locked(Payment, payment_id)
        if lines_of(payment_id):
            return True
        order = db.session.get(Order, payment.order_id)
        digital_lines = {line.id for line in order.lines
                         if db.session.get(Item, line.item_id).digital}
        physical = len(order.lines) - len(digital_lines)
        if payment.state != S.AUTHORIZED or payment.amount_captured or \
                not uses_parts(current_app.config["CAPTURE_POLICY"], physical):
            return False
        if sum(line.paid for line in order.lines) != payment.amount_authorized:
            return False  # an authorization that is not the order's lines: capture it whole
        void_at = void_deadline(payment.authorized_at or now(),
                                int(current_app.config["UNCAPTURED_VOID_DAYS"]),
                                lifetime_days(payment.provider))
        for line in order.lines:
            due = line.id in digital_lines
            db.session.add(LineCapture(
                payment_id=payment.id, order_line_id=line.id, seller_id=line.seller_id,
                amount=line.paid, void_at=void_at,
                status=(L.DUE if due else L.AWAITING_SHIPMENT).value,
                idempotency_key=f"{payment.idempotency_key}:capture:line:{line.id}",
                due_at=now() if due else None))
        audit.record(actor, "payment.capture_planned", f"payment:{payment.id}",
                     policy="per_shipment", void_at=void_at.isoformat(),
                     lines=len(order.lines))
        return True


@retry_transient
def _fix_group(payment_id: int, at_deadline: bool) -> tuple[list[int], str, bool] | None:
    """Choose the lines the next capture takes and fix its key and finality (committed before
    the PSP call); a group fixed earlier and not yet applied is taken again as it was, so a
    retry repeats the same request under the same key."""
    with unit_of_work():
        payment = locked(Payment, payment_id)
        rows = lines_of(payment_id)
        due = [r for r in rows if r.state == L.DUE]
        fixed = [r for r in due if r.capture_key is not None]
        if fixed:  # whatever the payment's status says since (a webhook may be ahead of us)
            group = [r for r in due if r.capture_key == fixed[0].capture_key]
            return [r.id for r in group], group[0].capture_key, bool(group[0].final)
        if not due or payment.state not in CAPTURING:
            return None
        multi = get_provider(payment.provider).multicapture()
        awaiting = sum(1 for r in rows if r.state == L.AWAITING_SHIPMENT)
        if not multi and awaiting and not at_deadline:
            return [], "", False  # one capture only: wait for the other sellers or the deadline
        final = is_final(awaiting) or not multi
        for r in due:  # the group's key is its first line's own key
            r.capture_key, r.final = due[0].idempotency_key, final
        return [r.id for r in due], due[0].idempotency_key, final


def capture_due(payment_id: int, actor: Actor, at_deadline: bool = False) -> Result:
    """Capture the lines that shipped (and digital ones); safe to run twice."""
    group = _fix_group(payment_id, at_deadline)
    if group is None:
        return Result("unchanged")
    ids, key, final = group
    if not ids:
        return Result("waiting")
    payment = db.session.get(Payment, payment_id)
    amount = sum(db.session.get(LineCapture, i).amount for i in ids)
    provider = get_provider(payment.provider)
    try:
        if provider.multicapture():
            report = provider.capture_part(payment.psp_reference, amount, key, final)
        else:
            report = provider.capture(payment.psp_reference, amount, idempotency_key=key)
    except ProviderError as exc:
        if exc.retryable or exc.executed is not False:
            raise  # the job retries with the same key; the PSP captures once
        return _refused(payment_id, ids, exc, actor)
    return _apply(payment_id, ids, report, final, actor)


def _refused(payment_id: int, ids: list[int], exc: ProviderError, actor: Actor) -> Result:
    """The PSP refused a capture no retry will cure. Where its authorization has nothing left
    to capture (expired, voided), the shipped lines are voided — never charged, never left
    waiting — and support is asked to look, since goods left unpaid."""
    payment = db.session.get(Payment, payment_id)
    report = get_provider(payment.provider).retrieve(payment.psp_reference)
    reason = f"the PSP refused the capture of shipped lines: {exc.code}"
    payments.flag_for_review(payment_id, reason, actor)
    if report.status in (S.AUTHORIZED, S.PARTIALLY_CAPTURED) and \
            report.amount_authorized > report.amount_captured:
        return Result("needs_review")
    # Shipped goods left: their stock is not back on the shelf.
    return _record_voids(payment_id, ids, report, actor, restock=False,
                         why="the payment provider could no longer charge for it")


@retry_transient
def _apply(payment_id: int, ids: list[int], report: ProviderPayment, final: bool,
           actor: Actor) -> Result:
    """Record one capture: lines captured, their escrow holds and ledger posting, the
    payment's status, the shipped lines' release timers — in one transaction."""
    releases = []
    with unit_of_work():
        payment = locked(Payment, payment_id)
        rows = [locked(LineCapture, i) for i in ids]
        if all(r.state == L.CAPTURED for r in rows):
            return Result("unchanged")
        booked_fee = sum(r.psp_fee for r in lines_of(payment_id) if r.state == L.CAPTURED)
        fee = max(0, (report.fee_amount or 0) - booked_fee)
        amount = sum(r.amount for r in rows)
        taken = amount + sum(r.amount for r in lines_of(payment_id) if r.state == L.CAPTURED)
        payment.amount_captured = max(payment.amount_captured, taken)
        if report.fee_amount is not None:
            payment.psp_fee_amount = report.fee_amount
        for r in rows:
            r.status = transition(r.state, L.CAPTURED).value
            r.captured_at, r.psp_fee = now(), 0
        rows[0].psp_fee = fee
        escrow.hold_captured(payment, lines=[r.line for r in rows], amount=amount, psp_fee=fee,
                             intent=f"capture:payment:{payment.id}:part:{rows[0].id}")
        target = S.CAPTURED if final else S.PARTIALLY_CAPTURED
        if can_transition(payment.state, target):
            payments.record_change(payment, target, f"captured {amount} for "
                                   f"{len(rows)} shipped line(s)", actor)
        releases = _start_timers([r.order_line_id for r in rows], actor)
        if any(db.session.get(Item, r.line.item_id).digital for r in rows):
            digital.deliver_paid(payment, actor)
        audit.record(actor, "payment.part_captured", f"payment:{payment.id}", amount=amount,
                     lines=[r.order_line_id for r in rows], final=final)
    for hold_id, due in releases:
        escrow.schedule_release(hold_id, due)
    return Result("captured", captured=len(ids))


def _start_timers(line_ids: list[int], actor: Actor) -> list[tuple[int, object]]:
    # A line shipped before it was captured: its hold starts the release timer now.
    started = []
    for line_id in line_ids:
        shipment = db.session.execute(select(Shipment).where(
            Shipment.order_line_id == line_id)).scalar_one_or_none()
        if shipment is None:
            continue
        hold = db.session.execute(select(EscrowHold).where(
            EscrowHold.order_line_id == line_id)).scalar_one()
        started.append((hold.id, escrow.note_shipped(hold, shipment.tracking_ref, actor)))
    return started


def void_rest(payment_id: int, actor: Actor) -> Result:
    """At the deadline: capture what shipped, then void what did not (lines cancelled, stock
    back on sale, buyer and sellers told)."""
    captured = capture_due(payment_id, actor, at_deadline=True)
    payment = db.session.get(Payment, payment_id)
    rows = lines_of(payment_id)
    awaiting = [r for r in rows if r.state == L.AWAITING_SHIPMENT]
    if not awaiting:
        return captured
    report = None
    provider = get_provider(payment.provider)
    nothing_taken = not any(r.state == L.CAPTURED for r in rows)
    if payment.state in CAPTURING and (nothing_taken or provider.multicapture()):
        # Without multicapture the one final capture already released the rest; a payment
        # the PSP already ended (voided, expired) has nothing left to release.
        report = provider.void(payment.psp_reference,
                               idempotency_key=f"{payment.idempotency_key}:void-rest")
    voided = _record_voids(payment_id, [r.id for r in awaiting], report, actor)
    return Result(voided.result, captured=captured.captured, voided=voided.voided)


@retry_transient
def _record_voids(payment_id: int, ids: list[int], report: ProviderPayment | None,
                  actor: Actor, why: str = "it was not shipped in time",
                  restock: bool = True) -> Result:
    with unit_of_work():
        payment = locked(Payment, payment_id)
        order = locked(Order, payment.order_id)
        rows = [r for r in (locked(LineCapture, i) for i in ids) if r.state in OPEN]
        for r in rows:
            r.status = transition(r.state, L.VOIDED).value
            r.voided_at, r.void_reason = now(), why
            if restock:
                locked(Item, r.line.item_id).stock += r.line.quantity
            _tell(order, r, why)
        if report is not None and report.status is not None and \
                report.status != payment.state and can_transition(payment.state, report.status):
            payments.record_change(payment, report.status, "uncaptured rest voided", actor)
        if payment.state in (S.CANCELLED, S.EXPIRED) and order.state == OrderStatus.PAID:
            # Nobody shipped anything: the order ends here (each line's stock went back above).
            order.status = order_transition(order.state, OrderStatus.CANCELLED).value
            order.stock_released = True
        audit.record(actor, "payment.rest_voided", f"payment:{payment.id}",
                     lines=[r.order_line_id for r in rows])
        return Result("voided", voided=len(rows))


def _tell(order: Order, row: LineCapture, why: str) -> None:
    title = row.line.title
    notifications.notify(order.buyer_id, "line_voided",
                         f"Order #{order.id}: {title} was cancelled",
                         f"{title} was cancelled ({why}); your card was not charged for it.")
    notifications.notify(row.seller_id, "line_voided",
                         f"Order #{order.id}: {title} was cancelled",
                         f"{title} was cancelled ({why}): the buyer was not charged for it.")


def overdue() -> tuple[list[int], list[int]]:
    """(payments with lines past their void deadline, payments with lines due whose capture
    job seems lost) — for the periodic owner."""
    at = now()
    void = list(db.session.execute(select(LineCapture.payment_id).where(
        LineCapture.status.in_([s.value for s in OPEN]), LineCapture.void_at <= at)
        .distinct().order_by(LineCapture.payment_id)).scalars())
    stuck = list(db.session.execute(select(LineCapture.payment_id).where(
        LineCapture.status == L.DUE.value, LineCapture.due_at < at - GRACE)
        .distinct().order_by(LineCapture.payment_id)).scalars())
    return void, [p for p in stuck if p not in void]


def enqueue_capture(payment_id: int) -> None:
    """Ask a worker to capture a payment's due lines (after the caller's commit)."""
    queues.enqueue("app.jobs.payments.capture_shipped", payment_id,
                   job_id=None)
