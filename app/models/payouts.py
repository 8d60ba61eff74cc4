"""Payouts of a seller's available balance to their bank account."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import now
from app.domain.money import Money
from app.domain.payout_states import PayoutStatus
from app.extensions import db


class Payout(db.Model):
    """One transfer to a seller's bank through a PSP; its key is committed before the call."""

    __tablename__ = "payouts"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int]
    status: Mapped[str] = mapped_column(String(16), default=PayoutStatus.PENDING.value,
                                        index=True)
    provider: Mapped[str] = mapped_column(String(32))
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    psp_reference: Mapped[str | None] = mapped_column(String(64), unique=True)
    destination_last4: Mapped[str | None] = mapped_column(String(4))
    failure_code: Mapped[str | None] = mapped_column(String(64))
    failure_message: Mapped[str | None] = mapped_column(Text)
    # Frozen when the payout is booked: every retry of its key carries the same destination,
    # whatever the seller changed since (a bank account row, or a Stripe connected account).
    bank_account_id: Mapped[int | None]
    destination_ref: Mapped[str | None] = mapped_column(String(64))
    # The rail's own payout to the bank when it is a second object: Stripe Connect's payout
    # from the connected account (po_…) after our transfer (tr_… in psp_reference).
    rail_reference: Mapped[str | None] = mapped_column(String(64))
    # A PSP answer no retry can cure (amount mismatch, idempotency error): support decides.
    needs_review: Mapped[bool] = mapped_column(default=False)
    review_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=now, index=True)  # dashboard (0046)
    settled_at: Mapped[datetime | None]
    returned_at: Mapped[datetime | None]   # the bank sent a paid payout back
    # Last time a sweep asked the PSP whether it failed late (its webhook may be lost).
    checked_at: Mapped[datetime | None]

    @property
    def state(self) -> PayoutStatus:
        """The status as the domain enum."""
        return PayoutStatus(self.status)

    @property
    def total(self) -> Money:
        """The amount as Money."""
        return Money(self.amount, self.currency)


class FundingTransfer(db.Model):
    """Money moved between two PSPs through the platform's treasury so a payout's rail holds
    what it pays (collected at one PSP, paid out through another). Booked with the payout;
    the treasury tops the rail up ("treasury_funding", the top-up's id is `psp_reference`),
    then the collecting PSP pays the treasury back ("treasury_sweep", its payout to the
    platform's bank is `sweep_reference`): each PSP's clearing moves only by what that PSP
    reports (docs/reconciliation.md "Treasury funding")."""

    __tablename__ = "funding_transfers"
    __table_args__ = (CheckConstraint("amount > 0", name="funding_amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    payout_id: Mapped[int] = mapped_column(ForeignKey("payouts.id"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int]
    from_provider: Mapped[str] = mapped_column(String(32))
    to_provider: Mapped[str] = mapped_column(String(32))
    # pending -> topped_up -> succeeded; failed: the rail refused the top-up (nothing moved)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    psp_reference: Mapped[str | None] = mapped_column(String(64), unique=True)
    sweep_reference: Mapped[str | None] = mapped_column(String(64), unique=True)
    # Sweeps the collecting PSP refused: a refusal is saved with its key, so each new attempt
    # carries a key of its own (`<key>-sweep`, then `<key>-sweep<n>`).
    sweep_attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=now)
    settled_at: Mapped[datetime | None]


class TreasuryConversion(db.Model):
    """Currency the platform holds at a PSP, converted there into the currency a payout owes
    (a sale paid in EUR whose seller is paid in USD). Booked with the payout, executed at the
    PSP under its own key before the payout is sent, then posted once per currency
    ("treasury_conversion", intent `conversion:<id>:<currency>`); `psp_reference` is the
    PSP's conversion id, whose two balance lines reconciliation sees."""

    __tablename__ = "treasury_conversions"
    __table_args__ = (
        CheckConstraint("sold_amount > 0 AND bought_amount > 0", name="conversion_positive"),
        CheckConstraint("sold_currency <> bought_currency", name="conversion_two_currencies"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    payout_id: Mapped[int] = mapped_column(ForeignKey("payouts.id"), index=True)
    provider: Mapped[str] = mapped_column(String(32))
    sold_currency: Mapped[str] = mapped_column(String(3))
    sold_amount: Mapped[int]
    bought_currency: Mapped[str] = mapped_column(String(3))
    bought_amount: Mapped[int]
    rate: Mapped[str] = mapped_column(String(32))  # bought per sold, as booked (Decimal text)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | succeeded
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    psp_reference: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=now)
    settled_at: Mapped[datetime | None]
