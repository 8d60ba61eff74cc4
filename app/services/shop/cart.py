"""A buyer's cart: items from any seller, grouped by currency at checkout."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select

from app.database import unit_of_work
from app.domain.money import Money
from app.extensions import db
from app.models import CartItem, Item
from app.services.errors import NotFound, ServiceError

MAX_QUANTITY = 99


@dataclass(frozen=True)
class CartGroup:
    """The cart's lines in one currency, with their total."""

    currency: str
    rows: list[CartItem]
    total: Money


def set_quantity(buyer_id: int, item_id: int, quantity: int, *, add: bool = False) -> None:
    """Put an item in the cart (add=True adds to what is there); 0 removes it."""
    if quantity < 0 or quantity > MAX_QUANTITY:
        raise ServiceError(f"Choose a quantity between 0 and {MAX_QUANTITY}.")
    with unit_of_work():
        item = db.session.get(Item, item_id)
        if item is None or not item.active:
            raise NotFound("That item is not for sale.")
        if item.seller_id == buyer_id:
            raise ServiceError("You cannot buy your own item.")
        row = db.session.execute(select(CartItem).where(
            CartItem.buyer_id == buyer_id, CartItem.item_id == item_id)).scalar_one_or_none()
        wanted = quantity + (row.quantity if row and add else 0)
        if wanted > MAX_QUANTITY:
            raise ServiceError(f"At most {MAX_QUANTITY} of one item per order.")
        if wanted > item.stock:
            raise ServiceError(f"Only {item.stock} of “{item.title}” left in stock.")
        if wanted == 0:
            if row:
                db.session.delete(row)
        elif row:
            row.quantity = wanted
        else:
            db.session.add(CartItem(buyer_id=buyer_id, item_id=item_id, quantity=wanted))


def groups(buyer_id: int) -> list[CartGroup]:
    """The cart, grouped by currency (an order holds one currency)."""
    rows = db.session.execute(
        select(CartItem).where(CartItem.buyer_id == buyer_id).order_by(CartItem.id)
    ).scalars().all()
    by_currency: dict[str, list[CartItem]] = defaultdict(list)
    for row in rows:
        by_currency[row.item.currency].append(row)
    return [CartGroup(cur, lines, Money(sum(r.item.price_amount * r.quantity for r in lines), cur))
            for cur, lines in sorted(by_currency.items())]


def count(buyer_id: int) -> int:
    """How many units are in the cart (for the nav badge)."""
    rows = db.session.execute(select(CartItem.quantity).where(CartItem.buyer_id == buyer_id))
    return sum(q for (q,) in rows)
