"""The double-entry ledger: transactions (one per business event) and their entries."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clock import now
from app.extensions import db

STORED = "psp_ref IS NOT NULL"
UNRESOLVED = "psp_provider IS NOT NULL AND psp_ref IS NULL"


class LedgerTransaction(db.Model):
    """One business event's posting; `intent` is unique so an event can post only once."""

    __tablename__ = "ledger_transactions"
    # A day's match (services/reconciliation/scratch, migration 0050) reads the objects the
    # provider's postings of the day moved, then each object's postings by the object; both
    # covering, and only over postings with a stored object. The few whose reference is
    # worked out when matched (sides.ledger_objects) have their own small index.
    __table_args__ = (Index("ix_ledger_transactions_psp_day", "psp_provider", "created_at",
                            "psp_type", "psp_ref", sqlite_where=text(STORED),
                            postgresql_where=text(STORED)),
                      Index("ix_ledger_transactions_psp_object", "psp_ref", "psp_type",
                            "psp_provider", "created_at", "psp_net", "psp_fee", "currency",
                            sqlite_where=text(STORED), postgresql_where=text(STORED)),
                      Index("ix_ledger_transactions_psp_unresolved", "psp_provider", "created_at",
                            sqlite_where=text(UNRESOLVED),
                            postgresql_where=text(UNRESOLVED)))

    id: Mapped[int] = mapped_column(primary_key=True)
    intent: Mapped[str] = mapped_column(String(120), unique=True)  # e.g. "capture:payment:7"
    event: Mapped[str] = mapped_column(String(32))
    currency: Mapped[str] = mapped_column(String(3))
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"), index=True)
    escrow_id: Mapped[int | None] = mapped_column(ForeignKey("escrow_holds.id"), index=True)
    payout_id: Mapped[int | None] = mapped_column(ForeignKey("payouts.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=now, index=True)
    # The PSP object it moved money on, stored when posted (reconciliation/ledger_events.
    # psp_object), so a day's match reads our side by (provider, created_at) with no joins.
    psp_provider: Mapped[str | None] = mapped_column(String(32))
    psp_type: Mapped[str | None] = mapped_column(String(20))
    psp_ref: Mapped[str | None] = mapped_column(String(64))
    psp_net: Mapped[int | None] = mapped_column(BigInteger().with_variant(db.Integer(), "sqlite"))
    psp_fee: Mapped[int | None] = mapped_column(BigInteger().with_variant(db.Integer(), "sqlite"))

    entries = relationship("LedgerEntry", back_populates="transaction",
                           order_by="LedgerEntry.id")


class LedgerEntry(db.Model):
    """One leg: + debit, − credit, minor units, on one account in one currency."""

    __tablename__ = "ledger_entries"
    __table_args__ = (Index("ix_ledger_entries_account_currency", "account", "currency"),
                      # A seller's balances from that seller's legs only (migration 0018).
                      Index("ix_ledger_entries_owner_kind", "owner", "kind", "currency",
                            "amount"))

    id: Mapped[int] = mapped_column(primary_key=True)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.id"), index=True)
    account: Mapped[str] = mapped_column(String(64))   # Account.code, e.g. "escrow:12"
    kind: Mapped[str] = mapped_column(String(24))
    owner: Mapped[str] = mapped_column(String(32), default="")
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=now)

    transaction = relationship("LedgerTransaction", back_populates="entries")


class LedgerBalance(db.Model):
    """An account's running balance in one currency (+ debit), added to by every posting in
    its own transaction (services/money/ledger.post), so reading a balance is one row, not a
    sum over every leg the account ever had (issue 18: the sandbox clearing account holds a
    leg per capture). `ledger_checks.balances_match_legs` asserts it equals the legs' sum."""

    __tablename__ = "ledger_balances"

    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    balance: Mapped[int] = mapped_column(BigInteger().with_variant(db.Integer(), "sqlite"))
