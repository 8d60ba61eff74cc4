"""Reference exchange rates (refreshed by a job) and the tax rates table the admin keeps."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import now
from app.extensions import db


class FxRate(db.Model):
    """Units of a currency per euro on the day the rates file gives (ECB reference rates)."""

    __tablename__ = "fx_rates"

    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    per_eur: Mapped[str] = mapped_column(String(32))  # a Decimal, kept as text: exact
    as_of: Mapped[date]
    fetched_at: Mapped[datetime] = mapped_column(default=now)


class TaxRateRow(db.Model):
    """VAT / sales tax in basis points for a buyer's country and an item's tax category."""

    __tablename__ = "tax_rates"
    __table_args__ = (UniqueConstraint("country", "category", name="one_rate_per_category"),
                      CheckConstraint("bps >= 0 AND bps <= 10000", name="bps_in_range"))

    id: Mapped[int] = mapped_column(primary_key=True)
    country: Mapped[str] = mapped_column(String(2))
    category: Mapped[str] = mapped_column(String(16))
    bps: Mapped[int]
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)
