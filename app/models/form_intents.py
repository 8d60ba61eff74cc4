"""One-time keys of the forms that move money (app/services/form_intents.py)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import now
from app.extensions import db


class FormIntent(db.Model):
    """A key a person's form carried, claimed by its first submission: a repeat finds it."""

    __tablename__ = "form_intents"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    # What the key was spent on ("case:12:decide"): the same key is never good for another.
    purpose: Mapped[str] = mapped_column(String(120))
    # What the first submission was told; empty while it is still running (or if it died).
    outcome: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=now, index=True)
