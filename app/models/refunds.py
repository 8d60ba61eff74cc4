"""Refunds of captured payments and how each one is split over the order's lines."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, backref, mapped_column, relationship

from app.clock import now
from app.domain.money import Money
from app.domain.refund_states import RefundStatus
from app.extensions import db


class Refund(db.Model):
    """Money returned (or to be returned) to the buyer. Status changes only in services.refunds."""

    __tablename__ = "refunds"
    __table_args__ = (
        UniqueConstraint("provider", "psp_reference", name="one_row_per_psp_refund"),
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_refunds_settled_at", "settled_at"),  # the dashboard's days (0046)
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    # The dispute case this refund settles, if any. No foreign key: migration 0008 runs before
    # 0009 creates dispute_cases (the reserved order of revisions).
    case_id: Mapped[int | None] = mapped_column(index=True)
    provider: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=RefundStatus.PENDING.value,
                                        index=True)
    amount: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(String(255))
    requested_by: Mapped[str] = mapped_column(String(12))   # seller | support | system
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Written and committed before the PSP is called, so a retry repeats the same request.
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    psp_reference: Mapped[str | None] = mapped_column(String(64))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=now)
    # Set (and committed) before the key first goes to the PSP: from then on the key may have
    # executed, so no error may settle the refund FAILED without the PSP's own word.
    sent_at: Mapped[datetime | None]
    # An answer that contradicts the request (amount): flagged once; the sweep stops asking.
    needs_review: Mapped[bool] = mapped_column(default=False)
    review_reason: Mapped[str | None] = mapped_column(Text)
    settled_at: Mapped[datetime | None]     # succeeded or failed
    # Last time a sweep asked the PSP whether it failed late (its webhook may be lost).
    checked_at: Mapped[datetime | None]
    reversed_at: Mapped[datetime | None]

    payment = relationship("Payment", backref=backref("refunds", order_by="Refund.id"))
    lines = relationship("RefundLine", order_by="RefundLine.id", back_populates="refund")

    @property
    def state(self) -> RefundStatus:
        """The status as the domain enum."""
        return RefundStatus(self.status)

    @property
    def total(self) -> Money:
        """The refund's amount as Money."""
        return Money(self.amount, self.currency)


class RefundLine(db.Model):
    """One order line's part of a refund, and where its money was when the refund settled."""

    __tablename__ = "refund_lines"
    __table_args__ = (
        UniqueConstraint("refund_id", "order_line_id", name="one_part_per_line"),
        # amount 0: a part of a converted line smaller than the line currency's unit (the
        # buyer still gets paid_amount; the platform carries it).
        CheckConstraint("amount >= 0 AND fee_returned >= 0 AND fee_returned <= amount "
                        "AND (amount > 0 OR paid_amount > 0)", name="fee_within_amount"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    refund_id: Mapped[int] = mapped_column(ForeignKey("refunds.id"), index=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id"), index=True)
    hold_id: Mapped[int] = mapped_column(ForeignKey("escrow_holds.id"), index=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    amount: Mapped[int]
    fee_returned: Mapped[int]           # the platform fee given back with this part
    # Set when the refund settles: taken from escrow (False) or clawed back (True). The
    # reversal of a late failure needs to know which accounts the refund touched.
    released: Mapped[bool | None]
    # A converted or taxed order (services/refunds/converted.py): `amount` and `fee_returned`
    # are in the line's settlement currency; what goes back to the buyer for it, in the
    # refund's currency, is paid_amount = the part at the order's mid rate + margin + tax.
    paid_amount: Mapped[int | None]
    paid_margin: Mapped[int] = mapped_column(default=0, server_default="0")
    paid_tax: Mapped[int] = mapped_column(default=0, server_default="0")
    fx_difference: Mapped[int] = mapped_column(default=0, server_default="0")

    refund = relationship("Refund", back_populates="lines")
    line = relationship("OrderLine")

    @property
    def paid(self) -> int:
        """What the buyer gets back for this line, in the refund's currency."""
        return self.amount if self.paid_amount is None else self.paid_amount
