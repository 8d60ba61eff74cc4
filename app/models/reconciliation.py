"""Settlement data imported from the PSPs, the differences found against the ledger, and which
ledger transactions reconciliation posted for which report day."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import now
from app.extensions import db


class SettlementImport(db.Model):
    """One provider's report of one UTC day: where the import stands (resumable by `cursor`)."""

    __tablename__ = "settlement_imports"
    __table_args__ = (UniqueConstraint("provider", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    day: Mapped[str] = mapped_column(String(10))            # YYYY-MM-DD, UTC
    status: Mapped[str] = mapped_column(String(12), default="queued")  # queued|importing|matching|done|failed
    cursor: Mapped[str | None] = mapped_column(String(64))  # the PSP's page cursor to resume from
    lines_imported: Mapped[int] = mapped_column(default=0)
    pages: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(default=now)
    finished_at: Mapped[datetime | None]


class SettlementLine(db.Model):
    """One money movement as the PSP reported it (providers/base.SettlementLine), stored once
    per (provider, reference), so importing a report twice adds nothing."""

    __tablename__ = "settlement_lines"
    __table_args__ = (UniqueConstraint("provider", "reference"),
                      Index("ix_settlement_lines_object", "provider", "type", "source"),
                      Index("ix_settlement_lines_day", "provider", "day"),
                      # Matching reads a touched object's lines of other days by source, and
                      # a give-back refund's line by its payment (migration 0030).
                      Index("ix_settlement_lines_source", "provider", "source"),
                      Index("ix_settlement_lines_payment", "provider", "payment"))

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    reference: Mapped[str] = mapped_column(String(64))
    day: Mapped[str] = mapped_column(String(10))
    type: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(64))   # the object; the reference for adjustments
    payment: Mapped[str | None] = mapped_column(String(64))
    gross: Mapped[int] = mapped_column(BigInteger)
    fee: Mapped[int] = mapped_column(BigInteger)
    net: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    created: Mapped[int] = mapped_column(BigInteger)  # Unix seconds at the PSP
    payout: Mapped[str | None] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(String(500), default="")
    # The PSP account it was booked to (Braintree's merchant account; migration 0030).
    account: Mapped[str | None] = mapped_column(String(64))
    # The settlement posting that moved this line's net out of PSP clearing (once matched).
    settlement_txn_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_transactions.id"))


class Difference(db.Model):
    """A PSP object on which the PSP's report and our ledger disagree, until resolved."""

    __tablename__ = "reconciliation_differences"
    __table_args__ = (Index("ix_recon_differences_object", "provider", "type", "source"),
                      Index("ix_recon_differences_status", "status", "day"))

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    day: Mapped[str] = mapped_column(String(10))
    kind: Mapped[str] = mapped_column(String(20))
    type: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(64))
    payment: Mapped[str | None] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3))
    psp_net: Mapped[int | None] = mapped_column(BigInteger)
    psp_fee: Mapped[int | None] = mapped_column(BigInteger)
    ledger_net: Mapped[int | None] = mapped_column(BigInteger)
    ledger_fee: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(12), default="open")
    assigned_to: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str] = mapped_column(Text, default="")
    resolution: Mapped[str | None] = mapped_column(Text)
    correction_txn_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_transactions.id"))
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=now)
    resolved_at: Mapped[datetime | None]


class ReconciliationPosting(db.Model):
    """A ledger transaction reconciliation posted (a settlement, a correction), and the report
    day it belongs to: clearing per day counts it on that day, not on the day it was posted."""

    __tablename__ = "reconciliation_postings"

    transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.id"),
                                                primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    day: Mapped[str] = mapped_column(String(10), index=True)
