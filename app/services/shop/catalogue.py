"""Sellers' listings."""
from __future__ import annotations

import re

from sqlalchemy import select

from app.database import locked, unit_of_work
from app.domain.money import MoneyError, parse
from app.domain.tax import CATEGORIES as TAX_CATEGORIES
from app.extensions import db
from app.models import Item
from app.models.catalogue import ItemCategory
from app.services import audit
from app.services.audit import Actor
from app.services.errors import Conflict, NotFound, ServiceError


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


GENERAL = "general"  # built in: every item without a more specific category


def categories() -> list[ItemCategory]:
    """The categories the admin defined, by name ("general" is always there besides)."""
    return list(db.session.execute(select(ItemCategory).order_by(ItemCategory.name)).scalars())


def category_choices() -> list[tuple[str, str]]:
    """(slug, name) for a seller's category picker: General first, then the admin's."""
    return [(GENERAL, "General")] + [(c.slug, c.name) for c in categories()
                                     if c.slug != GENERAL]


def _category(text: str | None) -> str:
    # Categories select fee rules, so a seller picks one the admin defined; never free text.
    slug = (text or "").strip().lower() or GENERAL
    if slug != GENERAL and db.session.execute(
            select(ItemCategory.id).where(ItemCategory.slug == slug)).first() is None:
        raise ServiceError("Choose one of the listed categories.")
    return slug


def add_category(name: str, actor: Actor) -> str:
    """The admin defines a category; its slug (what items and fee rules store) is derived from
    the name. Refuses a duplicate."""
    name = " ".join((name or "").split())[:80]
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40]
    if not slug:
        raise ServiceError("Give the category a name with letters or digits.")
    with unit_of_work():
        if slug == GENERAL or db.session.execute(
                select(ItemCategory.id).where(ItemCategory.slug == slug)).first():
            raise Conflict(f"There is already a category “{name}”.")
        db.session.add(ItemCategory(slug=slug, name=name))
        audit.record(actor, "category.created", f"category:{slug}", name=name)
    return slug


def _tax_category(value: str) -> None:
    if value not in TAX_CATEGORIES:
        raise ServiceError("Choose a tax category from the list.")


def create_item(seller_id: int, title: str, description: str, price_text: str, currency: str,
                stock: int, actor: Actor, category: str = "general",
                tax_category: str = "standard") -> int:
    """List a new item; the price is parsed exactly from its decimal text."""
    title, amount = _validated(title, price_text, currency, stock)
    category = _category(category)
    _tax_category(tax_category)
    with unit_of_work():
        item = Item(seller_id=seller_id, title=title, description=description or "",
                    price_amount=amount, currency=currency, stock=stock,
                    category=category, tax_category=tax_category)
        db.session.add(item)
        db.session.flush()
        audit.record(actor, "item.created", f"item:{item.id}", price=amount, currency=currency)
        return item.id


def update_item(seller_id: int, item_id: int, title: str, description: str, price_text: str,
                currency: str, stock: int, active: bool, actor: Actor,
                category: str = "general", tax_category: str = "standard") -> None:
    """Change a listing the seller owns; open orders keep the price they were made at."""
    title, amount = _validated(title, price_text, currency, stock)
    category = _category(category)
    _tax_category(tax_category)
    with unit_of_work():
        item = locked(Item, item_id)
        if item is None or item.seller_id != seller_id:
            raise NotFound("No such item.")
        item.title, item.description = title, description or ""
        item.price_amount, item.currency, item.stock, item.active = amount, currency, stock, active
        item.category, item.tax_category = category, tax_category
        audit.record(actor, "item.updated", f"item:{item.id}", price=amount, currency=currency,
                     stock=stock, active=active)
