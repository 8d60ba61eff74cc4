"""Physical lines on their way: sellers mark them shipped (carrier, tracking) and delivered;
the order's status follows once every line is on its way or arrived.

`line_shipped` is the one hook point for "a line was marked shipped": it runs inside the
shipping transaction, so whatever attaches there (an email, a per-shipment capture) is written
exactly when the shipment is.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.clock import now
from app.database import locked, retry_transient, unit_of_work
from app.domain.capture_states import LineCaptureStatus
from app.domain.capture_states import transition as capture_transition
from app.domain.escrow_states import EscrowStatus
from app.domain.fulfilment_states import CARRIERS, DeliveryStatus, ShipmentStatus, ship_transition
from app.domain.order_states import FULFILLED, OrderStatus
from app.domain.order_states import transition as order_transition
from app.extensions import db, queues
from app.models import EscrowHold, Item, Order
from app.models.captures import LineCapture
from app.models.fulfilment import DigitalDelivery, Shipment
from app.services import audit, notifications
from app.services.audit import Actor
from app.services.errors import Conflict, NotFound, ServiceError
from app.services.money import escrow

S = ShipmentStatus


@dataclass(frozen=True)
class Shipped:
    """What marking a line shipped did: the shipment, and when its escrow releases by itself."""

    shipment_id: int
    hold_id: int
    release_due: object


def line_shipped(shipment: Shipment, actor: Actor) -> None:
    """Hook: a line was just marked shipped (caller's transaction). Tells the buyer; other
    features (templated emails, per-shipment capture) attach here."""
    order = db.session.get(Order, shipment.order_id)
    tracking = f", tracking {shipment.tracking_ref}" if shipment.tracking_ref else ""
    notifications.notify(order.buyer_id, "line_shipped",
                         f"Order #{order.id}: {shipment.line.title} has shipped",
                         f"{shipment.line.title} is on its way with {shipment.carrier}"
                         f"{tracking}.")


@retry_transient
def mark_shipped(seller_id: int, hold_id: int, carrier: str, tracking_ref: str,
                 actor: Actor) -> Shipped:
    """The seller handed the line to a carrier: record it, start escrow's auto-release timer,
    tell the buyer; another seller's line is NotFound."""
    carrier = (carrier or "").strip()
    tracking_ref = (tracking_ref or "").strip()
    if carrier not in CARRIERS:
        raise ServiceError("Choose the carrier.", field="carrier")
    if len(tracking_ref) > 64:
        raise ServiceError("A tracking reference has at most 64 characters.",
                           field="tracking_ref")
    with unit_of_work():
        hold = locked(EscrowHold, hold_id)
        if hold is None or hold.seller_id != seller_id:
            raise NotFound("No such order line.")
        if db.session.get(Item, hold.line.item_id).digital:
            raise Conflict("Digital items are delivered at once; there is nothing to ship.")
        if hold.state == EscrowStatus.REFUNDED:
            raise Conflict("This line was refunded to the buyer; there is nothing to ship.")
        due = escrow.note_shipped(hold, tracking_ref, actor)
        shipment = Shipment(order_line_id=hold.order_line_id, order_id=hold.order_id,
                            seller_id=seller_id, carrier=carrier, tracking_ref=tracking_ref,
                            status=S.SHIPPED.value, shipped_at=hold.shipped_at)
        db.session.add(shipment)
        db.session.flush()
        audit.record(actor, "shipment.shipped", f"order_line:{hold.order_line_id}",
                     carrier=carrier, tracking=tracking_ref)
        line_shipped(shipment, actor)
        progress(hold.order_id, actor)
        result = Shipped(shipment.id, hold.id, due)
    escrow.schedule_release(hold_id, due)
    return result


def _checked(carrier: str, tracking_ref: str) -> tuple[str, str]:
    carrier, tracking_ref = (carrier or "").strip(), (tracking_ref or "").strip()
    if carrier not in CARRIERS:
        raise ServiceError("Choose the carrier.", field="carrier")
    if len(tracking_ref) > 64:
        raise ServiceError("A tracking reference has at most 64 characters.",
                           field="tracking_ref")
    return carrier, tracking_ref


@retry_transient
def mark_authorized_shipped(seller_id: int, line_capture_id: int, carrier: str,
                            tracking_ref: str, actor: Actor) -> int:
    """The seller shipped a line whose payment is only authorized (per-shipment capture):
    record the shipment and make the line due, so the capture job charges the buyer for it
    (enqueued after this commit); its escrow timer starts when the capture is booked. Another
    seller's line is NotFound; the payment id is returned."""
    carrier, tracking_ref = _checked(carrier, tracking_ref)
    with unit_of_work():
        row = locked(LineCapture, line_capture_id)
        if row is None or row.seller_id != seller_id:
            raise NotFound("No such order line.")
        if row.state == LineCaptureStatus.VOIDED:
            raise Conflict("This line was cancelled: it was not shipped in time and the buyer "
                           "was not charged for it.")
        if row.state != LineCaptureStatus.AWAITING_SHIPMENT:
            raise Conflict("This line is already marked as shipped.")
        row.status = capture_transition(row.state, LineCaptureStatus.DUE).value
        row.due_at = now()
        line = row.line
        shipment = Shipment(order_line_id=line.id, order_id=line.order_id, seller_id=seller_id,
                            carrier=carrier, tracking_ref=tracking_ref,
                            status=S.SHIPPED.value, shipped_at=row.due_at)
        db.session.add(shipment)
        db.session.flush()
        audit.record(actor, "shipment.shipped", f"order_line:{line.id}", carrier=carrier,
                     tracking=tracking_ref, capture="per_shipment")
        line_shipped(shipment, actor)
        progress(line.order_id, actor)
        payment_id = row.payment_id
    queues.enqueue("app.jobs.payments.capture_shipped", payment_id)
    return payment_id


@retry_transient
def mark_delivered(seller_id: int, hold_id: int, actor: Actor) -> None:
    """The carrier delivered the line (the seller says so). Money is not released by this:
    only the buyer's confirmation, the timer or support release escrow."""
    with unit_of_work():
        hold = locked(EscrowHold, hold_id)
        if hold is None or hold.seller_id != seller_id:
            raise NotFound("No such order line.")
        shipment = db.session.execute(select(Shipment).where(
            Shipment.order_line_id == hold.order_line_id).with_for_update()).scalar_one_or_none()
        if shipment is None:
            raise Conflict("Mark the line shipped first.")
        if shipment.status == S.DELIVERED.value:
            return
        shipment.status = ship_transition(S(shipment.status), S.DELIVERED).value
        shipment.delivered_at = now()
        audit.record(actor, "shipment.delivered", f"order_line:{hold.order_line_id}")
        order = db.session.get(Order, hold.order_id)
        notifications.notify(order.buyer_id, "line_delivered",
                             f"Order #{order.id}: {shipment.line.title} was delivered",
                             f"{shipment.carrier} reports {shipment.line.title} delivered. "
                             f"Confirm receipt on your order page once you have it.")
        progress(hold.order_id, actor)


def progress(order_id: int, actor: Actor) -> None:
    """Move a paid order to shipped or delivered when all its lines are (caller's
    transaction). An order whose money changed since (refunds, chargebacks) keeps saying so."""
    order = locked(Order, order_id)
    if order.state not in {OrderStatus.PAID} | FULFILLED:
        return
    shipments = {s.order_line_id: s for s in db.session.execute(
        select(Shipment).where(Shipment.order_id == order_id)).scalars()}
    deliveries = {d.order_line_id: d for d in db.session.execute(
        select(DigitalDelivery).where(DigitalDelivery.order_id == order_id)).scalars()}
    voided = set(db.session.execute(select(LineCapture.order_line_id).where(
        LineCapture.order_line_id.in_([line.id for line in order.lines]),
        LineCapture.status == LineCaptureStatus.VOIDED.value))
        .scalars())
    arrived = on_way = True
    for line in order.lines:
        if line.id in voided:
            continue  # cancelled unshipped (per-shipment capture): nothing is coming
        if line.id in deliveries:
            ok = deliveries[line.id].status == DeliveryStatus.DELIVERED.value
            arrived, on_way = arrived and ok, on_way and ok
        else:
            shipment = shipments.get(line.id)
            on_way = on_way and shipment is not None
            arrived = arrived and shipment is not None and shipment.status == S.DELIVERED.value
    target = OrderStatus.DELIVERED if arrived else OrderStatus.SHIPPED if on_way else None
    if target is None or target == order.state:
        return
    order.status = order_transition(order.state, target).value
    audit.record(actor, "order.status_changed", f"order:{order.id}", after=target.value)


def shipments_for(order_id: int) -> dict[int, Shipment]:
    """Order line id → its shipment."""
    return {s.order_line_id: s for s in db.session.execute(
        select(Shipment).where(Shipment.order_id == order_id)).scalars()}


def in_transit(seller_id: int, limit: int = 50) -> list[tuple[Shipment, int]]:
    """The seller's shipped lines not yet delivered, oldest first, each with its escrow hold's
    id (what the seller's actions are keyed by)."""
    return [(row[0], row[1]) for row in db.session.execute(
        select(Shipment, EscrowHold.id)
        .join(EscrowHold, EscrowHold.order_line_id == Shipment.order_line_id)
        .where(Shipment.seller_id == seller_id, Shipment.status == S.SHIPPED.value)
        .options(selectinload(Shipment.line)).order_by(Shipment.id).limit(limit)).all()]
