"""An order's money as people read it — on the order and checkout pages, the receipt and
statements: each line in the seller's currency and in the buyer's, the rate used, the tax
lines, and the totals. Read-only; one structure every template lists the same way."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from app.domain import tax as tax_rules
from app.domain.money import Money
from app.models import Order


@dataclass(frozen=True)
class LineView:
    """One line: the seller's amount, and (converted) the rate and the buyer's amount."""

    title: str
    seller: str
    quantity: int
    unit: Money          # settlement currency
    settlement: Money    # what the seller's line is worth, in their currency
    paid_net: Money      # in the buyer's currency, before tax
    rate: str | None     # "1 USD = 0.9356 EUR" when converted
    tax_percent: str | None
    tax: Money


@dataclass(frozen=True)
class TaxLine:
    """Tax at one rate: "VAT DE 19 %" on a base."""

    label: str
    base: Money
    amount: Money


@dataclass(frozen=True)
class FxLine:
    """One conversion of the order: the sellers' amount in their currency → the buyer's."""

    source: Money
    target: Money
    rate: str            # the buyer's rate (mid + margin)
    mid_rate: str
    margin_percent: str
    rates_date: date | None


@dataclass(frozen=True)
class OrderMoney:
    """The whole breakdown; `plain` orders (one currency, no tax) need none of the extras."""

    plain: bool
    lines: list[LineView]
    tax_lines: list[TaxLine]
    fx_lines: list[FxLine]
    net: Money
    tax: Money
    total: Money
    prices_include_tax: bool
    reverse_charge: bool
    vat_number: str | None
    country: str | None


def rate_text(source: str, target: str, rate: str) -> str:
    return f"1 {source} = {Decimal(rate).quantize(Decimal('0.000001')).normalize():f} {target}"


def tax_label(country: str | None, bps: int) -> str:
    kind = "VAT" if country in tax_rules.EU_COUNTRIES or country == "GB" else "Sales tax"
    return f"{kind} {country} {tax_rules.TaxRate(country, 'standard', bps).percent} %"


def breakdown(order: Order) -> OrderMoney:
    """The order's money, line by line, with its tax and conversion lines."""
    cur = order.currency
    lines, tax_groups = [], defaultdict(lambda: [0, 0])
    fx_groups: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for line in order.lines:
        converted = line.currency != cur
        lines.append(LineView(
            line.title, line.seller.display_name, line.quantity,
            Money(line.unit_amount, line.currency), line.total, Money(line.paid_net, cur),
            rate_text(line.currency, cur, line.fx_rate) if converted else None,
            tax_rules.TaxRate("XX", "standard", line.tax_bps).percent if line.tax_bps else None,
            Money(line.tax_amount, cur)))
        if line.tax_bps:
            group = tax_groups[line.tax_bps]
            group[0] += line.paid_net
            group[1] += line.tax_amount
        if converted:
            pair = fx_groups[(line.currency, line.fx_rate, line.fx_mid_rate)]
            pair[0] += line.line_total
            pair[1] += line.paid_net
    tax_lines = [TaxLine(tax_label(order.buyer_country, bps), Money(base, cur), Money(amt, cur))
                 for bps, (base, amt) in sorted(tax_groups.items())]
    margin = tax_rules.TaxRate("XX", "standard", order.fx_margin_bps).percent
    fx_lines = [FxLine(Money(src, source), Money(dst, cur), rate_text(source, cur, rate),
                       rate_text(source, cur, mid), margin, order.fx_rates_date)
                for (source, rate, mid), (src, dst) in sorted(fx_groups.items())]
    net = sum(line.paid_net for line in order.lines)
    return OrderMoney(order.plain, lines, tax_lines, fx_lines, Money(net, cur),
                      Money(order.tax_amount, cur), order.total,
                      tax_rules.prices_include_tax(order.buyer_country), order.reverse_charge,
                      order.vat_number, order.buyer_country)
