"""Clawbacks taken back from sellers' Stripe connected accounts by reversing their transfers."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import now
from app.domain.money import Money
from app.domain.reversal_states import ReversalStatus
from app.extensions import db

# The plain values, for queries and for the model's default.
PENDING, SUCCEEDED, FAILED = (ReversalStatus.PENDING.value, ReversalStatus.SUCCEEDED.value,
                              ReversalStatus.FAILED.value)


class TransferReversal(db.Model):
    """One TransferReversal planned for one clawback on one transfer (a paid Stripe payout).

    The row and its idempotency key are committed before Stripe is asked, so a job that runs
    twice or crashes half-way repeats the same request instead of planning a second one.
    """

    __tablename__ = "transfer_reversals"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        # One reversal per clawback per transfer: the clawback is the ledger posting that
        # took the money from the seller (a refund after release, a lost chargeback).
        UniqueConstraint("source_transaction_id", "seller_id", "payout_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    source_transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.id"),
                                                       index=True)
    payout_id: Mapped[int] = mapped_column(ForeignKey("payouts.id"), index=True)
    provider: Mapped[str] = mapped_column(String(32))
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int]
    status: Mapped[str] = mapped_column(String(16), default=PENDING, index=True)
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    psp_reference: Mapped[str | None] = mapped_column(String(64), unique=True)
    failure_code: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=now)
    settled_at: Mapped[datetime | None]

    @property
    def state(self) -> ReversalStatus:
        """The status as the domain enum."""
        return ReversalStatus(self.status)

    @property
    def total(self) -> Money:
        """The amount as Money."""
        return Money(self.amount, self.currency)
