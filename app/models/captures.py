"""Per-shipment capture: one row per order line of a payment captured line by line."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clock import now
from app.domain.capture_states import LineCaptureStatus
from app.extensions import db


class LineCapture(db.Model):
    """An order line's share of its payment's authorization: awaiting shipment, due, captured
    (its own partial capture at the PSP, under its own idempotency key) or voided."""

    __tablename__ = "line_captures"
    __table_args__ = (CheckConstraint("amount > 0", name="line_capture_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id"), unique=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # What the buyer pays for the line (tax included), in the payment's currency.
    amount: Mapped[int]
    status: Mapped[str] = mapped_column(String(20), default=LineCaptureStatus.AWAITING_SHIPMENT)
    # The line's own key; a capture taking several lines at once is sent under its first
    # line's key (capture_key, fixed before the PSP call, so a retried job repeats it).
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True)
    capture_key: Mapped[str | None] = mapped_column(String(120))
    final: Mapped[bool | None]   # whether that capture releases the rest
    psp_fee: Mapped[int] = mapped_column(default=0)  # the PSP's fee for its capture (first line)
    void_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=now)
    due_at: Mapped[datetime | None]
    captured_at: Mapped[datetime | None]
    voided_at: Mapped[datetime | None]
    void_reason: Mapped[str | None] = mapped_column(String(200))

    line = relationship("OrderLine")
    payment = relationship("Payment")

    @property
    def state(self) -> LineCaptureStatus:
        """The status as the domain enum."""
        return LineCaptureStatus(self.status)
