"""Sellers' listings."""
from __future__ import annotations

from app.database import locked, unit_of_work
from app.domain.money import MoneyError, parse
from app.extensions import db
from app.models import Item
from app.services import audit
from app.services.audit import Actor
from app.services.errors import NotFound, ServiceError


def _validated(title: str, price_text: str, currency: str, stock: int) -> tuple[str, int]:
    title = (title or "").strip()
    if not title:
        raise ServiceError("Give the item a title.")
    if not isinstance(stock, int) or stock < 0:
        raise ServiceError("Stock must be zero or more.")
    try:
        price = parse(price_text, currency)
    except MoneyError as exc:
        raise ServiceError(f"Price: {exc}.") from None
    return title, price.amount


def _category(text: str | None) -> str:
    # Categories select fee rules, so they are normalised: lower case, no stray spaces.
    return (text or "").strip().lower()[:40] or "general"


def create_item(seller_id: int, title: str, description: str, price_text: str, currency: str,
                stock: int, actor: Actor, category: str = "general") -> int:
    """List a new item; the price is parsed exactly from its decimal text."""
    title, amount = _validated(title, price_text, currency, stock)
    with unit_of_work():
        item = Item(seller_id=seller_id, title=title, description=description or "",
                    price_amount=amount, currency=currency, stock=stock,
                    category=_category(category))
        db.session.add(item)
        db.session.flush()
        audit.record(actor, "item.created", f"item:{item.id}", price=amount, currency=currency)
        return item.id


def update_item(seller_id: int, item_id: int, title: str, description: str, price_text: str,
                currency: str, stock: int, active: bool, actor: Actor,
                category: str = "general") -> None:
    """Change a listing the seller owns; open orders keep the price they were made at."""
    title, amount = _validated(title, price_text, currency, stock)
    with unit_of_work():
        item = locked(Item, item_id)
        if item is None or item.seller_id != seller_id:
            raise NotFound("No such item.")
        item.title, item.description = title, description or ""
        item.price_amount, item.currency, item.stock, item.active = amount, currency, stock, active
        item.category = _category(category)
        audit.record(actor, "item.updated", f"item:{item.id}", price=amount, currency=currency,
                     stock=stock, active=active)
