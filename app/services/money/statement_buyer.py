"""The buyer's side of a seller statement's line, for orders that were converted or taxed:
what the buyer paid (or got back) in their own currency, the rate frozen on the order, and the
tax on top. Shown beside the seller's amounts for information; none of it is part of the
seller's balance, so the statement's equation does not change (docs/statements.md)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from app.domain.refund_states import RefundStatus
from app.extensions import db
from app.models import Order, OrderLine
from app.models.refunds import Refund, RefundLine
from app.services.shop.order_money import rate_text, tax_label


@dataclass(frozen=True)
class BuyerSide:
    """In the buyer's currency: the amount for the seller's line before tax, the rate used
    ("1 USD = 0.935 EUR", None when the buyer paid in the seller's currency) and the tax."""

    currency: str
    net: int
    rate: str | None
    tax: int
    tax_label: str | None
    tax_country: str | None


TREATMENT = ("VAT and sales tax are charged to the buyer on top of your price, by the buyer's "
             "country. Holdfast collects them as the marketplace and owes them to that country "
             "(its tax-payable account per country); they are not part of your sales or your "
             "balance and are listed for information. Refunds give the tax back to the buyer and "
             "lost chargebacks reduce what Holdfast owes.")
CONVERSION = ("Buyers who paid in another currency are shown with their amount and the rate "
              "frozen on the order (the reference rate plus the platform's FX margin, which is "
              "the platform's): you are credited your price in this statement's currency, and a "
              "refund takes back your price, whatever the rate is on the day.")


def of_sale(order_line_id: int, hold_id: int, released_at: datetime) -> BuyerSide | None:
    """The buyer's side of a released line, or None for an order in one currency without tax:
    what they paid for it less what refunds settled before the release gave back (those left
    escrow, never the seller's balance), so it matches the gross released beside it."""
    line = db.session.get(OrderLine, order_line_id)
    order = db.session.get(Order, line.order_id)
    if order.plain:
        return None
    paid, tax = db.session.execute(
        select(func.coalesce(func.sum(RefundLine.paid_amount), 0),
               func.coalesce(func.sum(RefundLine.paid_tax), 0))
        .join(Refund).where(RefundLine.hold_id == hold_id,
                            Refund.status == RefundStatus.SUCCEEDED.value,
                            Refund.settled_at <= released_at)).one()
    converted = line.currency != order.currency
    return BuyerSide(order.currency, line.paid_net - (int(paid) - int(tax)),
                     rate_text(line.currency, order.currency, line.fx_rate) if converted
                     else None, line.tax_amount - int(tax),
                     tax_label(order.buyer_country, line.tax_bps) if line.tax_bps else None,
                     order.buyer_country)


def of_refund(intent: str, seller_id: int) -> BuyerSide | None:
    """The buyer's side of a refund's movement (intent "refund:N" or "refund:N:fx:CUR"): what
    the seller's lines of it returned to the buyer, before tax, and the tax returned."""
    kind, _, rest = intent.partition(":")
    number = rest.split(":", 1)[0]
    if kind != "refund" or not number.isdigit():
        return None
    refund = db.session.get(Refund, int(number))
    if refund is None:
        return None
    order = db.session.get(Order, refund.payment.order_id)
    if order.plain:
        return None
    mine = [line for line in refund.lines if line.seller_id == seller_id]
    if not mine:
        return None
    tax = sum(line.paid_tax for line in mine)
    first = mine[0].line
    converted = first.currency != order.currency
    return BuyerSide(order.currency, sum(line.paid for line in mine) - tax,
                     rate_text(first.currency, order.currency, first.fx_rate) if converted
                     else None, tax,
                     tax_label(order.buyer_country, first.tax_bps) if first.tax_bps else None,
                     order.buyer_country)
