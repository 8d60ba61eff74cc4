"""The emails about an order: the buyer's itemized receipt, each seller's new-sale notice, and
"shipped" / "delivered" for a line. Written to the outbox in the caller's transaction.

Taxes, shipping and currency conversion belong to other parts of the platform: each adds its
lines through ADJUSTMENT_SOURCES (a function order → list of Adjustment, each for one seller or
for the whole order), and the receipt shows them without knowing what they are.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from flask import current_app

from app.domain.fees import platform_fee
from app.domain.money import Money
from app.extensions import db
from app.models import EscrowHold, Order, OrderLine, Payment, User
from app.money_text import format_amount
from app.services import notifications


@dataclass(frozen=True)
class Adjustment:
    """A receipt line that is not an item: tax, shipping, a conversion, a discount."""

    label: str
    amount: int                  # minor units of the order's currency; negative for discounts
    seller_id: int | None = None  # None: for the whole order


def tax_lines(order: Order) -> list[Adjustment]:
    """Each seller's tax at each rate, as the order froze it (issue 17)."""
    from app.services.shop.order_money import tax_label

    per: dict[tuple[int, int], int] = {}
    for line in order.lines:
        if line.tax_amount:
            key = (line.seller_id, line.tax_bps)
            per[key] = per.get(key, 0) + line.tax_amount
    return [Adjustment(tax_label(order.buyer_country, bps), amount, seller_id)
            for (seller_id, bps), amount in sorted(per.items())]


# Extended by the shipping and other modules as they arrive (see the module docstring).
ADJUSTMENT_SOURCES: list[Callable[[Order], list[Adjustment]]] = [tax_lines]


@dataclass(frozen=True)
class ReceiptLine:
    title: str
    quantity: int
    unit: int
    total: int


@dataclass
class SellerGroup:
    """One seller's part of the receipt."""

    seller_name: str
    lines: list[ReceiptLine] = field(default_factory=list)
    adjustments: list[Adjustment] = field(default_factory=list)

    @property
    def subtotal(self) -> int:
        """Items plus this seller's adjustments."""
        return sum(x.total for x in self.lines) + sum(a.amount for a in self.adjustments)

    def rows(self) -> list[tuple[str, int]]:
        """(label, amount) rows for a money table."""
        return ([(f"{x.quantity} × {x.title}", x.total) for x in self.lines]
                + [(a.label, a.amount) for a in self.adjustments])


@dataclass
class Receipt:
    """What the buyer paid for, per seller, with every adjustment."""

    order_id: int
    currency: str
    total: int
    captured: bool
    card: str
    release_days: int
    sellers: list[SellerGroup]
    adjustments: list[Adjustment]

    def adjustment_rows(self) -> list[tuple[str, int]]:
        """(label, amount) rows of the order-wide adjustments."""
        return [(a.label, a.amount) for a in self.adjustments]


def receipt(order: Order) -> Receipt:
    """The order's receipt, from its lines (prices as placed) and the adjustment sources."""
    return _receipt(order, _payment_facts(order))


def _payment_facts(order: Order, payment: Payment | None = None) -> dict:
    """What the receipt says that may change after the order is paid (the payment captured
    later, the escrow setting), as it stands now: kept in the draft, not read when rendering.
    `payment`: the one that paid (default: the order's latest attempt)."""
    payment = payment if payment is not None else order.current_payment
    card = (f"{payment.card_brand.title()} ending {payment.card_last4}"
            if payment is not None and payment.card_last4 else "")
    return {"order_id": order.id, "captured": bool(payment and payment.amount_captured),
            "card": card,
            "release_days": int(current_app.config["ESCROW_AUTO_RELEASE_DAYS"])}


def _receipt(order: Order, facts: dict) -> Receipt:
    adjustments = [adj for source in ADJUSTMENT_SOURCES for adj in source(order)]
    groups: dict[int, SellerGroup] = {}
    for line in order.lines:
        group = groups.setdefault(line.seller_id, SellerGroup(_name(line.seller_id)))
        group.lines.append(_receipt_line(order, line))
    for adj in adjustments:
        if adj.seller_id in groups:
            groups[adj.seller_id].adjustments.append(adj)
    return Receipt(order.id, order.currency, order.total_amount, facts["captured"],
                   facts["card"], facts["release_days"], list(groups.values()),
                   [a for a in adjustments if a.seller_id not in groups])


def _receipt_line(order: Order, line: OrderLine) -> ReceiptLine:
    """A line in the order's currency: a converted line says its own price and the rate."""
    if line.currency == order.currency:
        return ReceiptLine(line.title, line.quantity, line.unit_amount, line.line_total)
    from app.services.shop.order_money import rate_text

    own = format_amount(Money(line.line_total, line.currency))
    title = f"{line.title} ({own} at {rate_text(line.currency, order.currency, line.fx_rate)})"
    if line.paid_net % line.quantity:  # no whole unit price in this currency: one row
        return ReceiptLine(f"{title} × {line.quantity}", 1, line.paid_net, line.paid_net)
    return ReceiptLine(title, line.quantity, line.paid_net // line.quantity, line.paid_net)


@dataclass(frozen=True)
class SaleLine:
    title: str
    quantity: int
    total: int
    fee: int
    rule: str


@dataclass(frozen=True)
class Sale:
    """A seller's part of an order, with the platform fee each line pays."""

    order_id: int
    currency: str
    lines: list[SaleLine]

    @property
    def gross(self) -> int:
        return sum(x.total for x in self.lines)

    @property
    def fee(self) -> int:
        return sum(x.fee for x in self.lines)

    @property
    def net(self) -> int:
        return self.gross - self.fee

    def line_rows(self) -> list[tuple[str, int]]:
        """(label, amount) rows for a money table."""
        return [(f"{x.quantity} × {x.title} (fee {x.rule})", x.total) for x in self.lines]


def _sale_line(line: OrderLine) -> SaleLine:
    rule = line.fee_rule
    fee = platform_fee(line.line_total, rule) if rule is not None else 0
    words = rule.describe(lambda m: format_amount(Money(m, line.currency))) \
        if rule is not None else "as at capture"
    return SaleLine(line.title, line.quantity, line.line_total, fee, words)


def _name(user_id: int) -> str:
    user = db.session.get(User, user_id)
    return user.display_name if user else f"seller {user_id}"


def order_paid(order: Order, payment: Payment | None = None) -> None:
    """The buyer's receipt (for `payment`, the one that paid; default: the latest attempt) and
    one new-sale notice per seller, as drafts in the caller's transaction: the delivery job
    renders them (`notifications.render_drafts`), so the webhook worker's capture transaction
    writes small rows and renders nothing."""
    notifications.notify_draft(order.buyer_id, "order_receipt",
                               f"Your Holdfast order #{order.id}: receipt", "receipt",
                               _payment_facts(order, payment))
    for seller_id in sorted(order.seller_ids):
        notifications.notify_draft(seller_id, "new_sale", f"New sale on order #{order.id}",
                                   "new_sale", {"order_id": order.id, "seller_id": seller_id})


def _render_receipt(facts: dict) -> tuple[str, dict]:
    # The lines, prices, fee rules and taxes are frozen on the order when it is placed: read
    # now, they are what they were at payment; the rest came with the draft.
    return "receipt", {"receipt": _receipt(db.session.get(Order, facts["order_id"]), facts)}


def _render_sale(facts: dict) -> tuple[str, dict]:
    order = db.session.get(Order, facts["order_id"])
    return "new_sale", {"sale": Sale(order.id, order.currency, [
        _sale_line(x) for x in order.lines if x.seller_id == facts["seller_id"]])}


notifications.DRAFT_RENDERERS.update(receipt=_render_receipt, new_sale=_render_sale)


def line_shipped(hold: EscrowHold) -> None:
    """Tell the buyer a line is on its way (the caller's transaction)."""
    line = db.session.get(OrderLine, hold.order_line_id)
    order = db.session.get(Order, hold.order_id)
    notifications.notify_template(
        order.buyer_id, "shipped", f"Shipped: {line.title} (order #{order.id})", "shipped",
        line=line, seller_name=_name(hold.seller_id), tracking=hold.tracking_ref,
        release_days=int(current_app.config["ESCROW_AUTO_RELEASE_DAYS"]))


DELIVERY_WORDS = {"buyer": "the buyer confirmed receipt",
                  "timer": "the confirmation period after shipment ended",
                  "support": "support released the payment"}


def line_delivered(hold: EscrowHold, how: str) -> None:
    """Tell the seller a line counts as delivered and its money is released."""
    line = db.session.get(OrderLine, hold.order_line_id)
    notifications.notify_template(
        hold.seller_id, "delivered", f"Delivered: {line.title} (order #{hold.order_id})",
        "delivered", line=line, how=DELIVERY_WORDS.get(how, how), net=hold.net.amount,
        currency=hold.currency)
