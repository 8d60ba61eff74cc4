"""A buyer's saved addresses, and the one an order ships to (chosen at checkout, copied)."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from app.clock import now
from app.database import locked, retry_transient, unit_of_work
from app.domain import addresses as rules
from app.domain.order_states import OrderStatus
from app.extensions import db
from app.models import Item, Order
from app.models.fulfilment import Address, OrderAddress
from app.services import audit
from app.services.audit import Actor
from app.services.errors import Conflict, NotFound, ServiceError

MAX_SAVED = 20


class AddressInvalid(ServiceError):
    """The address does not pass its country's rules; `errors` says what, per field."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("Check the address: " + " ".join(errors.values()),
                         field=next(iter(errors)))
        self.errors = errors


def saved(buyer_id: int) -> list[Address]:
    """The buyer's addresses still in use, newest first."""
    return list(db.session.execute(
        select(Address).where(Address.user_id == buyer_id, Address.removed_at.is_(None))
        .order_by(Address.id.desc())).scalars())


@retry_transient
def add(buyer_id: int, raw: dict[str, str], actor: Actor) -> int:
    """Check the address for its country and save it; its id."""
    checked = rules.check(raw)
    if not checked.ok:
        raise AddressInvalid(checked.errors)
    with unit_of_work():
        if len(saved(buyer_id)) >= MAX_SAVED:
            raise Conflict(f"You can keep at most {MAX_SAVED} addresses; remove one first.")
        address = Address(user_id=buyer_id, **checked.fields)
        db.session.add(address)
        db.session.flush()
        # The address itself is personal data: the audit log names only its country.
        audit.record(actor, "address.added", f"address:{address.id}",
                     country=address.country_code)
        return address.id


@retry_transient
def remove(buyer_id: int, address_id: int, actor: Actor) -> None:
    """Stop offering an address (orders keep their own copy)."""
    with unit_of_work():
        address = locked(Address, address_id)
        if address is None or address.user_id != buyer_id or address.removed_at is not None:
            raise NotFound("No such address.")
        address.removed_at = now()
        audit.record(actor, "address.removed", f"address:{address.id}")


def ships(order: Order) -> bool:
    """The order has at least one physical line, so it needs somewhere to go."""
    return any(not db.session.get(Item, line.item_id).digital for line in order.lines)


def for_order(order_id: int) -> OrderAddress | None:
    """Where the order ships, if chosen."""
    return db.session.execute(select(OrderAddress).where(
        OrderAddress.order_id == order_id)).scalar_one_or_none()


def missing(order: Order) -> bool:
    """A physical order with no address yet: it cannot be paid for."""
    return ships(order) and for_order(order.id) is None


@retry_transient
def choose(order_id: int, buyer_id: int, address_id: int, actor: Actor) -> None:
    """Ship the order to one of the buyer's saved addresses (until payment starts, changeable)."""
    with unit_of_work():
        order = locked(Order, order_id)
        if order is None or order.buyer_id != buyer_id:
            raise NotFound("No such order.")
        _choose_in(order, buyer_id, address_id, actor, for_order(order_id))


def _choose_in(order: Order, buyer_id: int, address_id: int, actor: Actor,
               chosen: OrderAddress | None) -> None:
    """Copy a saved address onto a locked order (`chosen`: its copy so far), in the caller's
    transaction."""
    address = db.session.get(Address, address_id)
    if address is None or address.user_id != buyer_id or address.removed_at is not None:
        raise NotFound("No such address.", field="address_id")
    copy = chosen or OrderAddress(order_id=order.id)
    if copy.address_id == address.id:
        return
    if order.state != OrderStatus.AWAITING_PAYMENT:
        # A paid order's sellers already see (and may have shipped to) its address.
        raise Conflict("The shipping address can no longer be changed for this order.")
    copy.address_id = address.id
    for field in rules.FIELDS:
        setattr(copy, field, getattr(address, field))
    copy.chosen_at = now()
    db.session.add(copy)  # flushed with the audit record below
    audit.record(actor, "order.ship_to", f"order:{order.id}", address=address.id,
                 country=address.country_code)


@dataclass(frozen=True)
class ShipTo:
    """The address a buyer picked on the checkout page (the form's `address_id`, maybe none):
    checkout settles it in the payment's own transaction (`settle_in`)."""

    address_text: str | None = None


def settle_for_payment(order_id: int, buyer_id: int, address_text: str | None,
                       actor: Actor) -> None:
    """Before a physical order is paid: the address the buyer picked, else the one already
    chosen, else their newest saved address (the one the page preselects); none at all is
    refused, so nothing is paid for that cannot be shipped. A transaction of its own."""
    with unit_of_work():
        order = locked(Order, order_id)
        if order is None or order.buyer_id != buyer_id:
            raise NotFound("No such order.")
        settle_in(order, ShipTo(address_text), actor)


def settle_in(order: Order, ship_to: ShipTo, actor: Actor) -> None:
    """settle_for_payment on an order the caller has locked, in the caller's transaction
    (checkout: the payment's), so that the address and the payment commit together."""
    if not ships(order):
        return
    text, chosen = ship_to.address_text, for_order(order.id)
    if text and text.isdigit():
        _choose_in(order, order.buyer_id, int(text), actor, chosen)
    elif chosen is None:
        mine = saved(order.buyer_id)
        if not mine:
            raise ServiceError("Add a shipping address before paying: this order is shipped.",
                               field="address_id")
        _choose_in(order, order.buyer_id, mine[0].id, actor, None)
