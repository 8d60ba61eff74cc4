"""Demo data for development: five accounts and a few items per seller, safe to re-run.

The support and admin accounts come enrolled in two-step sign-in with the published secret
config.DEMO_TOTP_SECRET, so a person can add it to any authenticator app and try the flow.
"""
from __future__ import annotations

import secrets
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from app.database import unit_of_work
from app.extensions import db
from app.models import Item, SellerFeeRule, User
from app.models.users import STAFF_ROLES
from app.services import audit
from app.services.audit import Actor
from app.services.errors import ServiceError
from app.services.money import bank_accounts, fx
from app.services.security import mfa
from app.services.shop import addresses, catalogue, digital, tax
from config import DEMO_ACCOUNTS, DEMO_PASSWORD, DEMO_TOTP_SECRET

SEED = Actor("system:seed-demo", "cli")

# The sandbox pays both out; docs/sandbox-psp.md lists the accounts whose payouts fail.
DEMO_BANK_ACCOUNTS = (
    ("seller@demo.test", "Northwind Goods", "DE89370400440532013000"),
    ("seller2@demo.test", "Harbor & Pine", "GB33BUKB20201555555555"),
)

DEMO_CATEGORIES = ("Ceramics", "Textiles")  # the admin's; Ceramics has its own fee rule
DEMO_ITEMS = {
    "seller@demo.test": [
        ("Hand-thrown stoneware mug", "Glazed in sea green; holds 350 ml.", "24.00", "EUR", 40,
         "ceramics"),
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
    for email, role, _ in DEMO_ACCOUNTS:
        if role in {r.value for r in STAFF_ROLES}:
            user = db.session.execute(select(User).where(User.email == email)).scalar_one()
            if mfa.enrol_with_secret(user.id, DEMO_TOTP_SECRET, SEED):
                created.append(f"two-step sign-in for {email} (TOTP secret {DEMO_TOTP_SECRET})")
    known = {c.slug for c in catalogue.categories()}
    for name in DEMO_CATEGORIES:
        if name.lower() not in known:
            catalogue.add_category(name, SEED)
            created.append(f"category {name}")
    for email, items in DEMO_ITEMS.items():
        seller = db.session.execute(select(User).where(User.email == email)).scalar_one()
        has_items = db.session.execute(
            select(Item.id).where(Item.seller_id == seller.id,
                                  Item.fulfilment == "physical").limit(1)).first()
        if has_items:
            continue
        for title, description, price, currency, stock, *category in items:
            catalogue.create_item(seller.id, title, description, price, currency, stock, SEED,
                                  category=category[0] if category else "general")
            created.append(f"item {title} ({price} {currency})")
    for email, holder, iban in DEMO_BANK_ACCOUNTS:
        seller = db.session.execute(select(User).where(User.email == email)).scalar_one()
        if bank_accounts.current_account(seller.id) is None:
            bank_accounts.register_or_change(seller.id, DEMO_PASSWORD, holder, SEED, iban=iban)
            created.append(f"bank account for {email} (IBAN ending {iban[-4:]})")
    with unit_of_work():
        seller = db.session.execute(select(User).where(User.email == DEMO_ACCOUNTS[1][0])).scalar_one()
        if not db.session.execute(select(SellerFeeRule).where(
                SellerFeeRule.seller_id == seller.id)).first():
            # Northwind pays 8 % + €0.30 a line, and only 5 % on ceramics.
            db.session.add_all([SellerFeeRule(seller_id=seller.id, category=None, bps=800,
                                              fixed_amount=30),
                                SellerFeeRule(seller_id=seller.id, category="ceramics", bps=500,
                                              fixed_amount=0)])
            audit.record(SEED, "fee_rules.created", f"seller:{seller.id}", rules=2, demo=True)
            created.append("fee rules for seller@demo.test")
    created += _seed_fulfilment()
    created += _seed_rates()
    return created


# Issue 17: the simple flow (pay → deliver a virtual good at once) and a saved address.
DEMO_DIGITAL = ("seller2@demo.test", "Starfall game-credit pack (1,000 gems)",
                "A licence key, delivered the moment you pay.", "9.99", "EUR")
DEMO_KEYS = 25
DEMO_ADDRESS = {"name": "Demo Buyer", "street_address": "Unter den Linden 1",
                "postal_code": "10117", "city": "Berlin", "country_code": "DE"}


def _seed_fulfilment() -> list[str]:
    created = []
    email, title, description, price, currency = DEMO_DIGITAL
    seller = db.session.execute(select(User).where(User.email == email)).scalar_one()
    if not db.session.execute(select(Item.id).where(Item.seller_id == seller.id,
                                                    Item.title == title)).first():
        item_id = catalogue.create_item(seller.id, title, description, price, currency, 0, SEED)
        digital.set_kind(seller.id, item_id, "licence_key", 0, SEED)
        keys = "\n".join(f"STAR-{secrets.token_hex(3).upper()}-{secrets.token_hex(3).upper()}"
                         for _ in range(DEMO_KEYS))
        digital.add_keys(seller.id, item_id, keys, SEED)
        created.append(f"digital item {title} ({price} {currency}, {DEMO_KEYS} licence keys)")
    buyer = db.session.execute(select(User).where(User.email == DEMO_ACCOUNTS[0][0])).scalar_one()
    if not addresses.saved(buyer.id):
        addresses.add(buyer.id, DEMO_ADDRESS, SEED)
        created.append(f"shipping address for {DEMO_ACCOUNTS[0][0]}")
    return created


def _seed_rates() -> list[str]:
    """The shipped reference rates and tax table, so a mixed cart and VAT work offline."""
    created = []
    if fx.current() is None:
        table = fx.refresh(SEED)
        created.append(f"exchange rates of {table.as_of} ({len(table.per_eur)} currencies)")
    if not tax.listing():
        path = Path(current_app.config["TAX_RATES_FILE"])
        if path.is_file():
            count = tax.import_csv(path.read_text(encoding="utf-8"), SEED)
            created.append(f"tax rates from {path.name} ({count})")
    return created
