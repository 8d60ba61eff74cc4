"""A payment attempt at a PSP for an order, and the history of its statuses."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clock import now
from app.domain.money import Money
from app.domain.payment_states import PaymentStatus
from app.extensions import db


class Payment(db.Model):
    """One PSP session for an order. Status changes only through services.payments."""

    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("provider", "psp_reference", name="one_row_per_psp_object"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("amount_captured <= amount_authorized", name="captured_within_auth"),
        CheckConstraint("amount_refunded <= amount_captured", name="refunded_within_capture"),
        # Support's lists by status and "needs review", newest first (migration 0018).
        Index("ix_payments_status_id", "status", "id"),
        Index("ix_payments_needs_review_id", "needs_review", "id"),
        # Support's search by card and by the PSP's reference (migration 0029).
        Index("ix_payments_card_last4", "card_last4", "id"),
        Index("ix_payments_psp_reference", "psp_reference"),
        Index("ix_payments_created_at", "created_at"),  # the dashboard's date ranges
        # Payments changed since the roll-ups were taken (reporting/rollups.py, 0046).
        Index("ix_payments_updated_at", "updated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    provider: Mapped[str] = mapped_column(String(32))
    routing_reason: Mapped[str] = mapped_column(String(255), default="")
    # The routing rule that chose the provider, the providers still to try when this one
    # certainly did not execute (comma-separated, in order), and the buyer's billing country.
    routing_rule: Mapped[str | None] = mapped_column(String(64))
    routing_fallbacks: Mapped[str] = mapped_column(String(255), default="", server_default="")
    billing_country: Mapped[str | None] = mapped_column(String(2))
    integration_mode: Mapped[str] = mapped_column(String(16))  # hosted | embedded
    # Indexed by ix_payments_status_id (status, id); the status-only index went in 0046.
    status: Mapped[str] = mapped_column(String(24), default=PaymentStatus.INITIATED.value)
    amount: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    amount_authorized: Mapped[int] = mapped_column(default=0)
    amount_captured: Mapped[int] = mapped_column(default=0)
    amount_refunded: Mapped[int] = mapped_column(default=0)
    # Written and committed before the PSP is called, so a retry reuses it.
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    psp_reference: Mapped[str | None] = mapped_column(String(64))
    redirect_url: Mapped[str | None] = mapped_column(String(500))
    embed_url: Mapped[str | None] = mapped_column(String(500))
    decline_code: Mapped[str | None] = mapped_column(String(64))
    failure_message: Mapped[str | None] = mapped_column(Text)
    needs_review: Mapped[bool] = mapped_column(default=False)
    review_reason: Mapped[str | None] = mapped_column(Text)
    # Money the PSP took that this payment must not keep, given back (voided or refunded)
    # instead of booked (services/payments/give_back.py): "duplicate" (another payment, in
    # duplicate_of, had already paid the order) or "abandoned" (we had cancelled the session).
    give_back: Mapped[str | None] = mapped_column(String(16))
    duplicate_of: Mapped[int | None]
    psp_fee_amount: Mapped[int | None]
    card_brand: Mapped[str | None] = mapped_column(String(24))
    card_last4: Mapped[str | None] = mapped_column(String(4))
    card_exp_month: Mapped[int | None]
    card_exp_year: Mapped[int | None]
    # The buyer ticked "Save my card": the PSP's reusable method goes to the vault once paid.
    save_payment_method: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=now)
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)
    expires_at: Mapped[datetime | None]
    # Fraud screening (services/fraud, docs/fraud.md): the latest decision, its score, reasons
    # and rule names (JSON lists), and what links this attempt to others for support's review.
    fraud_decision: Mapped[str | None] = mapped_column(String(16))
    fraud_score: Mapped[int | None]
    fraud_reasons: Mapped[str | None] = mapped_column(Text)
    fraud_rules: Mapped[str | None] = mapped_column(Text)
    client_ip: Mapped[str | None] = mapped_column(String(45), index=True)
    device_id: Mapped[str | None] = mapped_column(String(64), index=True)
    card_fingerprint: Mapped[str | None] = mapped_column(String(64), index=True)
    card_country: Mapped[str | None] = mapped_column(String(2))
    psp_risk_level: Mapped[str | None] = mapped_column(String(16))
    # pending → approved | rejected | voided_expiry; None when never held for review.
    review_status: Mapped[str | None] = mapped_column(String(16), index=True)
    reviewed_by: Mapped[str | None] = mapped_column(String(254))
    reviewed_at: Mapped[datetime | None]
    authorized_at: Mapped[datetime | None]

    order = relationship("Order", back_populates="payments")
    changes = relationship("PaymentStatusChange", order_by="PaymentStatusChange.id",
                           back_populates="payment")

    @property
    def state(self) -> PaymentStatus:
        """The status as the domain enum."""
        return PaymentStatus(self.status)

    @property
    def total(self) -> Money:
        """The amount asked for, as Money."""
        return Money(self.amount, self.currency)


class PaymentStatusChange(db.Model):
    """One move in a payment's life, with what caused it."""

    __tablename__ = "payment_status_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    from_status: Mapped[str] = mapped_column(String(24))
    to_status: Mapped[str] = mapped_column(String(24))
    cause: Mapped[str] = mapped_column(String(120))  # e.g. "webhook evt_…", "checkout"
    created_at: Mapped[datetime] = mapped_column(default=now)

    payment = relationship("Payment", back_populates="changes")
