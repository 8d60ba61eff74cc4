"""Support's fraud lists: blocklist, allowlist and the watchlist fed by lost chargebacks."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import now
from app.extensions import db

LISTS = ("block", "allow", "watch")
# What an entry matches: an exact email or email domain, the PSP's card fingerprint, a device
# cookie, an IP range (CIDR; a single address is a /32 or /128) or a country (ISO alpha-2).
KINDS = ("email", "email_domain", "fingerprint", "device", "ip_range", "country")


class FraudListEntry(db.Model):
    """One value on one list."""

    __tablename__ = "fraud_list_entries"
    __table_args__ = (UniqueConstraint("list", "kind", "value", name="one_fraud_list_entry"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    list: Mapped[str] = mapped_column(String(8))
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(254))
    reason: Mapped[str] = mapped_column(String(255), default="", server_default="")
    added_by: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(default=now)
