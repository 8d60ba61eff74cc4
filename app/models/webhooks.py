"""The webhook inbox: every verified PSP event, stored once before any work is done."""
from __future__ import annotations

from datetime import datetime
from enum import Enum

from sqlalchemy import String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import now
from app.extensions import db


class InboxStatus(str, Enum):
    """Where an event stands in its processing."""

    RECEIVED = "received"
    PROCESSED = "processed"
    IGNORED = "ignored"      # about an object we don't know, or stale
    FAILED = "failed"        # the job raised; it retries, then lands in the dead-letter view

    def __str__(self) -> str:
        return self.value


class WebhookEvent(db.Model):
    """One PSP event; (provider, event_id) is unique so duplicates change nothing."""

    __tablename__ = "webhook_events"
    __table_args__ = (UniqueConstraint("provider", "event_id", name="one_row_per_event"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    event_id: Mapped[str] = mapped_column(String(128))
    event_type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str | None] = mapped_column(String(128), index=True)
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=InboxStatus.RECEIVED.value,
                                        index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(String(255))
    received_at: Mapped[datetime] = mapped_column(default=now)
    processed_at: Mapped[datetime | None]
