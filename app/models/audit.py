"""The append-only audit log; each record carries the hash of the one before it."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import now
from app.extensions import db


class AuditRecord(db.Model):
    """Who did what, when, from where, to what, and how it ended."""

    __tablename__ = "audit_log"
    # A payment's timeline reads its records by target (migration 0029).
    __table_args__ = (Index("ix_audit_log_target", "target", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(default=now)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor: Mapped[str] = mapped_column(String(254))  # email, or "system:<job>" / "psp:<name>"
    action: Mapped[str] = mapped_column(String(64), index=True)
    outcome: Mapped[str] = mapped_column(String(16))  # success | failure
    origin: Mapped[str] = mapped_column(String(64))   # IP address or "worker"
    target: Mapped[str] = mapped_column(String(128))  # e.g. "payment:12"
    details: Mapped[str] = mapped_column(Text, default="{}")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Which AUDIT_KEY signed `hash` (an HMAC); None: a record from before keys (plain SHA-256).
    key_id: Mapped[str | None] = mapped_column(String(16))
    # 1-based place in the chain, so a checkpoint's count can be checked; None on legacy ones.
    position: Mapped[int | None]
