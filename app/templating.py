"""Jinja filters and globals."""
from __future__ import annotations

from flask import Flask

from app.domain.money import Money, format_money
from app.security_headers import csp_nonce


def money_filter(amount: int | Money | None, currency: str | None = None) -> str:
    """{{ item.price_amount|money(item.currency) }} or {{ order.total|money }}."""
    if amount is None:
        return "—"
    if isinstance(amount, Money):
        return format_money(amount)
    return format_money(Money(amount, currency))


def register(app: Flask) -> None:
    """Install the filters and globals."""
    app.add_template_filter(money_filter, "money")
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    app.jinja_env.globals["psp_public_url"] = app.config["SANDBOX_PUBLIC_URL"]
