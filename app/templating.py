"""Jinja filters and globals."""
from __future__ import annotations

from datetime import date

from flask import Flask

from app.clock import now
from app.domain.money import Money, format_money
from app.pci_inventory import script_hashes
from app.security_headers import csp_nonce


def money_filter(amount: int | Money | None, currency: str | None = None) -> str:
    """{{ item.price_amount|money(item.currency) }} or {{ order.total|money }}."""
    if amount is None:
        return "—"
    if isinstance(amount, Money):
        return format_money(amount)
    return format_money(Money(amount, currency))


def long_date(day: date | None) -> str:
    """"8 December", with the year only when it is not this year; "—" for no date."""
    if day is None:
        return "—"
    text = f"{day.day} {day.strftime('%B')}"
    return text if day.year == now().year else f"{text} {day.year}"


def register(app: Flask) -> None:
    """Install the filters and globals."""
    app.add_template_filter(money_filter, "money")
    app.add_template_filter(long_date, "long_date")
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    # Hashed once at startup: a script changed on disk later no longer matches and won't run.
    hashes = script_hashes(app.static_folder)
    app.jinja_env.globals["sri"] = hashes.__getitem__
