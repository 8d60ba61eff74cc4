"""A buyer's order: lines from one or more sellers, in one currency."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clock import now
from app.domain.fees import FeeRule
from app.domain.money import Money
from app.domain.order_states import (
    MONEY_TAKEN,
    OrderStatus,  # noqa: F401  (models re-export it, as before)
)
from app.extensions import db


class Order(db.Model):
    """What the buyer is paying for; totals are computed on the server from the catalogue."""

    __tablename__ = "orders"
    __table_args__ = (CheckConstraint("total_amount > 0", name="total_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    buyer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    total_amount: Mapped[int]
    status: Mapped[str] = mapped_column(String(24), default=OrderStatus.AWAITING_PAYMENT.value)
    stock_released: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=now)
    paid_at: Mapped[datetime | None]
    # Taxes and conversion, frozen when the order is placed (docs/fx-and-tax.md): the buyer's
    # country and VAT number, the tax in all, and the reference rates' date and margin.
    buyer_country: Mapped[str | None] = mapped_column(String(2))
    vat_number: Mapped[str | None] = mapped_column(String(20))
    reverse_charge: Mapped[bool] = mapped_column(default=False, server_default=false())
    tax_amount: Mapped[int] = mapped_column(default=0, server_default="0")
    fx_rates_date: Mapped[date | None]
    fx_margin_bps: Mapped[int] = mapped_column(default=0, server_default="0")

    buyer = relationship("User")
    lines = relationship("OrderLine", back_populates="order", order_by="OrderLine.id")
    payments = relationship("Payment", back_populates="order", order_by="Payment.id")

    @property
    def total(self) -> Money:
        """The order total as Money."""
        return Money(self.total_amount, self.currency)

    @property
    def money_taken(self) -> bool:
        """The buyer paid (whatever happened to the money since: refunds, chargebacks)."""
        return self.state in MONEY_TAKEN

    @property
    def state(self) -> OrderStatus:
        """The status as the domain's enum."""
        return OrderStatus(self.status)

    @property
    def current_payment(self):
        """The latest payment attempt, or None."""
        return self.payments[-1] if self.payments else None

    @property
    def converted(self) -> bool:
        """Some line settles in another currency than the buyer paid in."""
        return any(line.currency != self.currency for line in self.lines)

    @property
    def plain(self) -> bool:
        """Neither converted nor taxed: every line's money is the buyer's money as it was."""
        return not self.converted and self.tax_amount == 0

    @property
    def seller_ids(self) -> set[int]:
        """Every seller with a line in this order."""
        return {line.seller_id for line in self.lines}


class OrderLine(db.Model):
    """One item at the price it had when the order was made."""

    __tablename__ = "order_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("line_total = unit_amount * quantity", name="total_matches"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    seller_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    title: Mapped[str] = mapped_column(String(120))
    unit_amount: Mapped[int]
    quantity: Mapped[int]
    line_total: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    # The platform fee rule in force when the order was placed (services/money/fee_rules):
    # capture charges this, whatever an admin or the seller changed since. NULL on lines from
    # before migration 0023, which are charged by the rules in force at capture, as then.
    fee_bps: Mapped[int | None]
    fee_fixed: Mapped[int | None]
    fee_minimum: Mapped[int | None]
    fee_maximum: Mapped[int | None]
    fee_source: Mapped[str | None] = mapped_column(String(60))
    # In the order's (presentment) currency: the line net of tax as the buyer pays it (None: the
    # line is in the order's currency, so line_total), the FX margin in it, the rates used
    # (mid and mid + margin, settlement → presentment), and the tax on it.
    presentment_amount: Mapped[int | None]
    fx_margin: Mapped[int] = mapped_column(default=0, server_default="0")
    fx_mid_rate: Mapped[str | None] = mapped_column(String(32))
    fx_rate: Mapped[str | None] = mapped_column(String(32))
    tax_category: Mapped[str] = mapped_column(String(16), default="standard",
                                              server_default="standard")
    tax_bps: Mapped[int] = mapped_column(default=0, server_default="0")
    tax_amount: Mapped[int] = mapped_column(default=0, server_default="0")

    order = relationship("Order", back_populates="lines")
    seller = relationship("User")

    @property
    def total(self) -> Money:
        """The line total as Money."""
        return Money(self.line_total, self.currency)

    @property
    def fee_rule(self) -> FeeRule | None:
        """The fee rule fixed on this line when the order was placed (None: an older line)."""
        if self.fee_bps is None:
            return None
        return FeeRule(self.fee_bps, self.fee_fixed or 0, self.fee_minimum or 0,
                       self.fee_maximum)

    @property
    def paid_net(self) -> int:
        """The line net of tax in the order's currency."""
        return self.line_total if self.presentment_amount is None else self.presentment_amount

    @property
    def paid(self) -> int:
        """What the buyer pays for the line, tax included, in the order's currency."""
        return self.paid_net + self.tax_amount
