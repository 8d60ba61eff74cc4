"""Digital goods: delivered at capture, revoked when the money goes back.

An item is a licence key (from a pool the seller uploads, sealed at rest), a file download
(a signed link that expires) or store credit. `deliver_paid` runs inside the capture's own
transaction (payments.apply_report), so a captured digital line is delivered exactly when its
money is booked, and its seller's share is released from escrow at once, minus the fee: there is
nothing to ship and nothing to wait for. A pool that runs dry stops the item being sold (its
stock is the pool's free keys); a paid order that still finds no key (the seller lowered the
pool by hand) waits, flagged to the seller and to support, until keys are added.
"""
from __future__ import annotations

import hashlib
import hmac

from flask import current_app
from sqlalchemy import func, select

from app import crypto
from app.clock import now
from app.database import locked, retry_transient, unit_of_work
from app.domain.escrow_states import EscrowStatus
from app.domain.fulfilment_states import DeliveryStatus, delivery_transition
from app.extensions import db
from app.models import EscrowHold, Item, Order, Payment
from app.models.fulfilment import DigitalDelivery, DigitalFile, LicenceKey
from app.services import audit, notifications
from app.services.audit import Actor
from app.services.errors import Conflict, NotFound, ServiceError
from app.services.money import escrow
from app.services.shop import fulfilment

D = DeliveryStatus
KINDS = {"physical": "Physical (shipped)", "licence_key": "Licence key",
         "download": "File download", "store_credit": "Store credit"}
WAITING_REASON = "Paid order waits for a licence key"
MAX_KEYS_PER_UPLOAD = 1000
MAX_FILE_BYTES = 1_500_000  # under MAX_CONTENT_LENGTH (2 MiB) with the form around it


# --- the seller's side ---------------------------------------------------------------------

def _own_item(seller_id: int, item_id: int) -> Item:
    item = locked(Item, item_id)
    if item is None or item.seller_id != seller_id:
        raise NotFound("No such item.")
    return item


@retry_transient
def set_kind(seller_id: int, item_id: int, kind: str, credit_units: int, actor: Actor) -> None:
    """Make an item physical or one of the digital kinds."""
    if kind not in KINDS:
        raise ServiceError("Choose how the item is delivered.", field="kind")
    if kind == "store_credit" and not 0 < credit_units <= 1_000_000:
        raise ServiceError("Store credit needs between 1 and 1,000,000 credits per unit.",
                           field="credit_units")
    with unit_of_work():
        item = _own_item(seller_id, item_id)
        item.fulfilment = kind
        item.credit_units = credit_units if kind == "store_credit" else 0
        if kind == "licence_key":
            # A key item can only be sold while the pool has a free key for it.
            item.stock = _free_keys(item.id)
        audit.record(actor, "item.fulfilment", f"item:{item.id}", kind=kind,
                     credit_units=item.credit_units)


def _fingerprint(item_id: int, key: str) -> str:
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, f"{item_id}:{key}".encode(), hashlib.sha256).hexdigest()


def _free_keys(item_id: int) -> int:
    return db.session.scalar(select(func.count(LicenceKey.id)).where(
        LicenceKey.item_id == item_id, LicenceKey.status == "available")) or 0


def key_counts(item_id: int) -> dict[str, int]:
    """How many keys of the item's pool are available, assigned and revoked."""
    rows = db.session.execute(select(LicenceKey.status, func.count(LicenceKey.id))
                              .where(LicenceKey.item_id == item_id)
                              .group_by(LicenceKey.status)).all()
    return {"available": 0, "assigned": 0, "revoked": 0, **dict(rows)}


@retry_transient
def add_keys(seller_id: int, item_id: int, text: str, actor: Actor) -> int:
    """Add keys (one a line) to the item's pool; paid orders waiting for a key get theirs
    first, the rest go on sale. Returns how many keys were new."""
    keys = list(dict.fromkeys(k.strip() for k in (text or "").splitlines() if k.strip()))
    if not keys:
        raise ServiceError("Paste at least one key, one a line.", field="keys")
    if len(keys) > MAX_KEYS_PER_UPLOAD or any(len(k) > 200 for k in keys):
        raise ServiceError(f"At most {MAX_KEYS_PER_UPLOAD} keys of up to 200 characters "
                           f"each at a time.", field="keys")
    with unit_of_work():
        item = _own_item(seller_id, item_id)
        if item.fulfilment != "licence_key":
            raise Conflict("This item is not sold as a licence key.")
        known = set(db.session.execute(select(LicenceKey.fingerprint).where(
            LicenceKey.item_id == item.id)).scalars())
        added = 0
        for key in keys:
            fingerprint = _fingerprint(item.id, key)
            if fingerprint in known:
                continue
            row = LicenceKey(item_id=item.id, status="available", fingerprint=fingerprint)
            row.sealed = crypto.encrypt(key.encode(), row.associated_data())
            db.session.add(row)
            known.add(fingerprint)
            added += 1
        db.session.flush()
        served = _serve_waiting(item, actor)
        item.stock += added - served
        audit.record(actor, "licence_keys.added", f"item:{item.id}", added=added,
                     served_waiting=served)
        return added


@retry_transient
def attach_file(seller_id: int, item_id: int, filename: str, content_type: str, data: bytes,
                actor: Actor) -> None:
    """Set the file a download item delivers (replacing any earlier one)."""
    filename = (filename or "").replace("/", "_").replace("\\", "_").strip()[:200]
    if not filename or not data:
        raise ServiceError("Choose a file to upload.", field="file")
    if len(data) > MAX_FILE_BYTES:
        raise ServiceError("The file is too large (1.5 MB at most).", field="file")
    with unit_of_work():
        item = _own_item(seller_id, item_id)
        if item.fulfilment != "download":
            raise Conflict("This item is not sold as a download.")
        row = db.session.execute(select(DigitalFile).where(
            DigitalFile.item_id == item.id)).scalar_one_or_none() or DigitalFile(item_id=item.id)
        row.filename, row.data = filename, data
        row.content_type = (content_type or "application/octet-stream")[:100]
        row.sha256, row.uploaded_at = hashlib.sha256(data).hexdigest(), now()
        db.session.add(row)
        db.session.flush()
        audit.record(actor, "digital_file.uploaded", f"item:{item.id}", sha256=row.sha256,
                     size=len(data))
        _serve_waiting(item, actor)


# --- delivery at capture -------------------------------------------------------------------

def deliver_paid(payment: Payment, actor: Actor) -> None:
    """Deliver every digital line of a just-captured payment (caller's transaction, once)."""
    order = db.session.get(Order, payment.order_id)
    for line in order.lines:
        item = db.session.get(Item, line.item_id)
        if not item.digital or _delivery(line.id) is not None:
            continue
        delivery = DigitalDelivery(order_line_id=line.id, order_id=order.id,
                                   buyer_id=order.buyer_id, seller_id=line.seller_id,
                                   item_id=item.id, kind=item.fulfilment, status=D.WAITING.value,
                                   credit_units=item.credit_units * line.quantity)
        db.session.add(delivery)
        db.session.flush()
        if not _try_deliver(delivery, item, actor):
            _flag_waiting(delivery, payment, item, actor)
    fulfilment.progress(order.id, actor)


def _delivery(line_id: int) -> DigitalDelivery | None:
    return db.session.execute(select(DigitalDelivery).where(
        DigitalDelivery.order_line_id == line_id)).scalar_one_or_none()


def _try_deliver(delivery: DigitalDelivery, item: Item, actor: Actor) -> bool:
    """Hand the buyer what the line bought and release its seller's share; False when it
    cannot be done yet (no key, no file)."""
    if delivery.kind == "licence_key":
        keys = list(db.session.execute(
            select(LicenceKey).where(LicenceKey.item_id == item.id,
                                     LicenceKey.status == "available")
            .order_by(LicenceKey.id).limit(delivery.line.quantity).with_for_update()).scalars())
        if len(keys) < delivery.line.quantity:
            return False
        for key in keys:
            key.status, key.assigned_at = "assigned", now()
            delivery.keys.append(key)
    elif delivery.kind == "download" and db.session.execute(select(DigitalFile.id).where(
            DigitalFile.item_id == item.id)).first() is None:
        return False
    delivery.status = delivery_transition(D(delivery.status), D.DELIVERED).value
    delivery.delivered_at = now()
    hold = db.session.execute(select(EscrowHold).where(
        EscrowHold.order_line_id == delivery.order_line_id).with_for_update()).scalar_one()
    if hold.state == EscrowStatus.HELD:
        # Nothing to ship or wait for: the seller's share is available now, less the fee.
        escrow.release_now(hold, "digital", actor)
    audit.record(actor, "digital.delivered", f"order_line:{delivery.order_line_id}",
                 kind=delivery.kind, keys=[k.id for k in delivery.keys])
    _tell_buyer_delivered(delivery)
    return True


def _tell_buyer_delivered(delivery: DigitalDelivery) -> None:
    title = delivery.line.title
    if delivery.kind == "licence_key":
        body = "Your licence key:\n" + "\n".join(reveal_keys(delivery))
    elif delivery.kind == "download":
        body = "Download it from your order page (the link there is renewed each visit)."
    else:
        body = f"{delivery.credit_units} credits were added to your account."
    notifications.notify(delivery.buyer_id, "digital_delivered",
                         f"Order #{delivery.order_id}: {title} delivered",
                         f"Receipt for order #{delivery.order_id}: {title}.\n{body}")


def _flag_waiting(delivery: DigitalDelivery, payment: Payment, item: Item,
                  actor: Actor) -> None:
    """The order is paid but nothing can be delivered yet: seller and support must act."""
    reason = f"{WAITING_REASON} (order #{delivery.order_id}, item #{item.id})"
    payment.needs_review, payment.review_reason = True, reason
    audit.record(actor, "digital.waiting", f"order_line:{delivery.order_line_id}",
                 kind=delivery.kind, item=item.id)
    notifications.notify(delivery.seller_id, "digital_waiting",
                         f"Order #{delivery.order_id} is paid and waits for {item.title}",
                         "Add licence keys (or the file) for this item now: the buyer has paid "
                         "and gets it the moment you do. Support has been told.")


def _serve_waiting(item: Item, actor: Actor) -> int:
    """Deliver paid lines that waited for this item; how many keys they took."""
    waiting = list(db.session.execute(
        select(DigitalDelivery).where(DigitalDelivery.item_id == item.id,
                                      DigitalDelivery.status == D.WAITING.value)
        .order_by(DigitalDelivery.id).with_for_update()).scalars())
    used = 0
    for delivery in waiting:
        if not _try_deliver(delivery, item, actor):
            break
        used += delivery.line.quantity if delivery.kind == "licence_key" else 0
        payment = db.session.get(Order, delivery.order_id).current_payment
        if payment is not None and (payment.review_reason or "").startswith(WAITING_REASON):
            payment.needs_review, payment.review_reason = False, None
        fulfilment.progress(delivery.order_id, actor)
    return used


# --- what the buyer sees -------------------------------------------------------------------

def reveal_keys(delivery: DigitalDelivery) -> list[str]:
    """The delivery's keys in the clear (only for its buyer's page and receipt)."""
    return [crypto.decrypt(k.sealed, k.associated_data()).decode() for k in delivery.keys]


def for_order(order_id: int) -> dict[int, DigitalDelivery]:
    """Order line id → its digital delivery."""
    return {d.order_line_id: d for d in db.session.execute(
        select(DigitalDelivery).where(DigitalDelivery.order_id == order_id)).scalars()}


def credit_balance(buyer_id: int) -> int:
    """Store credit the buyer holds: delivered and not taken back."""
    return db.session.scalar(select(func.coalesce(func.sum(DigitalDelivery.credit_units), 0))
                             .where(DigitalDelivery.buyer_id == buyer_id,
                                    DigitalDelivery.status == D.DELIVERED.value)) or 0


# --- revocation (refunds, lost chargebacks) -----------------------------------------------

def revoke_lines(line_ids: list[int], reason: str, actor: Actor) -> int:
    """Revoke what the lines delivered (caller's transaction): keys revoked, links dead,
    credit taken back, and the buyer told. How many deliveries were revoked."""
    revoked = 0
    for line_id in line_ids:
        delivery = _delivery(line_id)
        if delivery is None or delivery.status == D.REVOKED.value:
            continue
        delivery.status = delivery_transition(D(delivery.status), D.REVOKED).value
        delivery.revoked_at, delivery.revoke_reason = now(), reason[:200]
        for key in delivery.keys:
            key.status = "revoked"
        audit.record(actor, "digital.revoked", f"order_line:{line_id}", kind=delivery.kind,
                     reason=reason, keys=[k.id for k in delivery.keys],
                     credit_units=delivery.credit_units)
        what = {"licence_key": "The licence key no longer works.",
                "download": "The download link no longer works.",
                "store_credit": f"{delivery.credit_units} credits were taken back."}
        notifications.notify(delivery.buyer_id, "digital_revoked",
                             f"Order #{delivery.order_id}: {delivery.line.title} revoked",
                             f"{delivery.line.title} was {reason}. {what[delivery.kind]}")
        revoked += 1
    return revoked


def revoke_refunded(hold_ids: list[int], actor: Actor) -> int:
    """After a refund: revoke the digital lines whose money all went back (a partial refund
    of a line is a price adjustment; the buyer keeps the goods)."""
    lines = [h.order_line_id for h in (db.session.get(EscrowHold, i) for i in hold_ids)
             if h is not None and h.state == EscrowStatus.REFUNDED]
    return revoke_lines(lines, "refunded", actor)


def revoke_order(order_id: int, reason: str, actor: Actor) -> int:
    """Revoke every digital line of an order (a chargeback the buyer's bank decided)."""
    order = db.session.get(Order, order_id)
    return revoke_lines([line.id for line in order.lines], reason, actor)


def waiting_for_seller(seller_id: int) -> list[DigitalDelivery]:
    """The seller's paid digital lines that wait for keys or a file, oldest first."""
    return list(db.session.execute(
        select(DigitalDelivery).where(DigitalDelivery.seller_id == seller_id,
                                      DigitalDelivery.status == D.WAITING.value)
        .order_by(DigitalDelivery.id)).scalars())
