"""Sellers' accounts at PSPs, e.g. the Stripe connected account a seller's payouts go to."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import now
from app.extensions import db


class ProviderAccount(db.Model):
    """One seller's account at one PSP (Stripe: acct_…); at most one per seller and PSP."""

    __tablename__ = "provider_accounts"
    __table_args__ = (UniqueConstraint("user_id", "provider"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    provider: Mapped[str] = mapped_column(String(32))
    # The PSP's id for the account; unique so one PSP account never pays two sellers.
    account_ref: Mapped[str] = mapped_column(String(255), unique=True)
    # Whether the PSP accepts transfers to it yet (onboarding finished).
    payouts_enabled: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=now)

    def __repr__(self) -> str:
        return f"<ProviderAccount {self.provider} user={self.user_id} {self.account_ref}>"
