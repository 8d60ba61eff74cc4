"""Demo data for development: five accounts and a few items per seller, safe to re-run."""
from __future__ import annotations

from flask import current_app
from sqlalchemy import select

from app.database import unit_of_work
from app.extensions import db
from app.models import Item, User
from app.services import audit, catalogue
from app.services.audit import Actor
from app.services.errors import ServiceError
from config import DEMO_ACCOUNTS, DEMO_PASSWORD

SEED = Actor("system:seed-demo", "cli")

DEMO_ITEMS = {
    "seller@demo.test": [
        ("Hand-thrown stoneware mug", "Glazed in sea green; holds 350 ml.", "24.00", "EUR", 40),
        ("Linen tea towel, set of 2", "Stonewashed Belgian linen.", "18.50", "EUR", 60),
        ("Walnut serving board", "Oiled black walnut, 40 × 20 cm.", "59.00", "USD", 15),
    ],
    "seller2@demo.test": [
        ("Beeswax candle trio", "Hand-dipped, unscented, 6 h burn each.", "16.90", "EUR", 80),
        ("Wool throw blanket", "Merino, 130 × 170 cm, charcoal.", "89.00", "EUR", 12),
        ("Enamel camp kettle", "1.2 l, works on gas and induction.", "42.00", "USD", 25),
    ],
}


def seed() -> list[str]:
    """Create what is missing; returns a line per thing created (nothing on a re-run)."""
    if not current_app.config.get("DEMO_ACCOUNTS_ALLOWED"):
        raise ServiceError("demo accounts are refused in this environment")
    created: list[str] = []
    for email, role, name in DEMO_ACCOUNTS:
        with unit_of_work():
            if db.session.execute(select(User).where(User.email == email)).scalar_one_or_none():
                continue
            user = User(email=email, display_name=name, role=role)
            user.set_password(DEMO_PASSWORD)
            db.session.add(user)
            db.session.flush()
            audit.record(SEED, "account.created", f"user:{user.id}", role=role, demo=True)
            created.append(f"account {email} ({role})")
    for email, items in DEMO_ITEMS.items():
        seller = db.session.execute(select(User).where(User.email == email)).scalar_one()
        has_items = db.session.execute(
            select(Item.id).where(Item.seller_id == seller.id).limit(1)).first()
        if has_items:
            continue
        for title, description, price, currency, stock in items:
            catalogue.create_item(seller.id, title, description, price, currency, stock, SEED)
            created.append(f"item {title} ({price} {currency})")
    return created
