"""What each cart line costs the buyer in the currency they pay in: converted at the reference
rate plus the platform's margin, with the tax of their country and the item's tax category.
Read-only; `checkout/orders.place_order` freezes a quote on the order."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from flask import current_app

from app.domain import fx as fx_rules
from app.domain import tax as tax_rules
from app.domain.money import Money
from app.models import CartItem, Item, User
from app.services.errors import ServiceError
from app.services.money import fx
from app.services.shop import tax


@dataclass(frozen=True)
class LineQuote:
    """One line: settlement amount, its conversion and its tax (presentment currency)."""

    item: Item
    quantity: int
    conversion: fx_rules.Conversion
    mid_rate: str | None
    tax_category: str
    tax_bps: int
    tax_amount: int

    @property
    def paid(self) -> int:
        """Tax included, in the presentment currency."""
        return self.conversion.presentment + self.tax_amount


@dataclass(frozen=True)
class Quote:
    """A cart (or part of one) priced in one presentment currency for one buyer."""

    currency: str
    country: str | None
    vat_number: str | None
    reverse_charge: bool
    lines: list[LineQuote]
    rates_date: date | None
    margin_bps: int

    @property
    def net(self) -> Money:
        return Money(sum(line.conversion.presentment for line in self.lines), self.currency)

    @property
    def tax(self) -> Money:
        return Money(sum(line.tax_amount for line in self.lines), self.currency)

    @property
    def total(self) -> Money:
        return Money(sum(line.paid for line in self.lines), self.currency)

    @property
    def prices_include_tax(self) -> bool:
        return tax_rules.prices_include_tax(self.country)


def vat_number_for(buyer: User, text: str | None) -> str | None:
    """A buyer's VAT number checked for format (None when none given), or ServiceError."""
    if not text or not text.strip():
        return None
    try:
        return tax_rules.check_vat_number(text, buyer.country)
    except tax_rules.TaxError as exc:
        raise ServiceError(str(exc)) from None


def quote(buyer: User, rows: list[tuple[Item, int]], currency: str,
          vat_number: str | None = None) -> Quote:
    """Price (item, quantity) rows in `currency` for this buyer (the items' catalogue prices)."""
    converting = any(item.currency != currency for item, _ in rows)
    table = fx.usable() if converting else None
    margin = fx.margin_bps() if converting else 0
    country = buyer.country
    reverse = tax_rules.reverse_charge(country, vat_number,
                                       current_app.config["TAX_HOME_COUNTRY"])
    rates = tax.table() if country and not reverse else {}
    lines = []
    for item, quantity in rows:
        settlement = item.price_amount * quantity
        mid = None
        if item.currency == currency:
            conversion = fx_rules.convert(settlement, currency, currency, Decimal(1), 0)
        else:
            try:
                mid_rate = table.rate(item.currency, currency)
            except fx_rules.FxError:
                raise ServiceError(f"“{item.title}” cannot be paid in {currency}: we have no "
                                   f"exchange rate for {item.currency}.") from None
            conversion = fx_rules.convert(settlement, item.currency, currency, mid_rate, margin)
            if conversion.presentment == 0:
                raise ServiceError(f"“{item.title}” is too cheap to pay in {currency}; "
                                   f"please pay it in {item.currency}.")
            mid = str(mid_rate)
        category = item.tax_category or "standard"
        bps = tax_rules.rate_bps(rates, country, category)
        lines.append(LineQuote(item, quantity, conversion, mid, category, bps,
                               tax_rules.tax_on(conversion.presentment, bps)))
    return Quote(currency, country, vat_number, reverse, lines,
                 table.as_of if table else None, margin)


def cart_rows(rows: list[CartItem]) -> list[tuple[Item, int]]:
    """Cart rows as (item, quantity)."""
    return [(row.item, row.quantity) for row in rows]


@dataclass(frozen=True)
class GroupPrice:
    """A cart group in its own currency, priced for the buyer (tax per their country)."""

    currency: str
    quote: Quote | None
    error: str | None


def priced_groups(buyer: User, groups) -> dict[str, GroupPrice]:
    """Each cart group (currency → its rows) priced in its own currency for the cart page."""
    result = {}
    for group in groups:
        try:
            result[group.currency] = GroupPrice(
                group.currency, quote(buyer, cart_rows(group.rows), group.currency), None)
        except ServiceError as exc:
            result[group.currency] = GroupPrice(group.currency, None, str(exc))
    return result


def converted(buyer: User, groups, currency: str) -> Quote | None:
    """The whole cart priced in `currency`, or None when it cannot be (no rates)."""
    rows = [pair for group in groups for pair in cart_rows(group.rows)]
    try:
        return quote(buyer, rows, currency) if rows else None
    except ServiceError:
        return None


def pay_in_choices(groups) -> list[str]:
    """Currencies a mixed cart can be paid in: the cart's own, when rates cover them all."""
    own = sorted({group.currency for group in groups})
    if len(own) < 2:
        return []
    known = set(fx.currencies())
    return own if set(own) <= known else []
