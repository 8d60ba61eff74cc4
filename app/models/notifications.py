"""The notification outbox: written with the event that caused it, delivered by a job."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import now
from app.extensions import db


class Notification(db.Model):
    """One message to a user (an email in production; the dev mailbox shows them all)."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)          # the plain-text part
    html: Mapped[str | None] = mapped_column(Text)   # the HTML part (NULL: rows before 0046)
    # pending → sent (the SMTP server accepted it) | failed (refused, or the last try failed);
    # "recorded": no mail server outside production, so only the development mailbox has it.
    status: Mapped[str] = mapped_column(String(12), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None]         # backoff: not tried again before this
    created_at: Mapped[datetime] = mapped_column(default=now)
    sent_at: Mapped[datetime | None]
