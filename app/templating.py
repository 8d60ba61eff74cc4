"""Jinja filters and globals."""
from __future__ import annotations

from datetime import date

from flask import Flask, url_for
from flask_login import current_user

from app.clock import now
from app.domain.money import Money
from app.domain.tax import EU_COUNTRIES, tax_on
from app.money_text import format_amount
from app.pci_inventory import script_hashes
from app.security_headers import csp_nonce
from app.services import form_intents
from app.services.shop.order_money import breakdown


def money_filter(amount: int | Money | None, currency: str | None = None) -> str:
    """{{ item.price_amount|money(item.currency) }} or {{ order.total|money }}."""
    if amount is None:
        return "—"
    if isinstance(amount, Money):
        return format_amount(amount)
    return format_amount(Money(amount, currency))


def long_date(day: date | None) -> str:
    """"8 December", with the year only when it is not this year; "—" for no date."""
    if day is None:
        return "—"
    text = f"{day.day} {day.strftime('%B')}"
    return text if day.year == now().year else f"{text} {day.year}"


def case_url(case) -> str | None:
    """Where the signed-in person reads a claim or chargeback case; None when they have no
    page for it (a buyer's chargeback is between them and their bank)."""
    role = getattr(current_user, "role", None)
    if role in ("support", "admin"):
        return url_for("support.case", case_id=case.id)
    if case.kind == "claim" and role in ("buyer", "seller"):
        return url_for("disputes.claim", case_id=case.id)
    if case.kind == "chargeback" and role == "seller":
        return url_for("seller.chargeback", case_id=case.id)
    return None


HOMES = {"buyer": ("shop.index", "Back to the shop"),
         "seller": ("seller.dashboard", "Back to your dashboard"),
         "support": ("support.disputes", "Back to the dispute centre"),
         "admin": ("support.disputes", "Back to the dispute centre")}


def home_url() -> str:
    """The signed-in person's own home (the shop for buyers and visitors)."""
    endpoint, _ = HOMES.get(getattr(current_user, "role", None), HOMES["buyer"])
    return url_for(endpoint)


def home_label() -> str:
    """The words of a link to `home_url`."""
    return HOMES.get(getattr(current_user, "role", None), HOMES["buyer"])[1]


def register(app: Flask) -> None:
    """Install the filters and globals."""
    app.add_template_filter(money_filter, "money")
    app.add_template_filter(long_date, "long_date")
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    app.jinja_env.globals["case_url"] = case_url
    # A one-time key for a form that moves money (services/form_intents.py).
    app.jinja_env.globals["form_intent"] = form_intents.mint
    app.jinja_env.globals["home_url"] = home_url
    app.jinja_env.globals["home_label"] = home_label
    # An order's lines, tax and conversion, listed the same on every page and the receipt.
    app.jinja_env.globals["order_money"] = breakdown
    app.jinja_env.globals["tax_on"] = tax_on
    app.jinja_env.globals["eu_countries"] = EU_COUNTRIES
    # Hashed once at startup: a script changed on disk later no longer matches and won't run.
    hashes = script_hashes(app.static_folder)
    app.jinja_env.globals["sri"] = hashes.__getitem__
