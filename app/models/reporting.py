"""Daily roll-ups of the admin dashboard's figures (docs/performance.md, "Scale").

A closed day's figures are stored once per (currency, day, metric, label), so the dashboard
reads O(days × currencies) rows instead of every payment and ledger leg of its range;
`daily_rollups` says which days are stored and when, `rollup_marks` until when changes to
older payments were folded in (services/reporting/rollups.py).
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db

AMOUNT = BigInteger().with_variant(db.Integer(), "sqlite")


class DailyTotal(db.Model):
    """One figure of one closed day: a count out of a count, and an amount (minor units)."""

    __tablename__ = "daily_totals"

    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    metric: Mapped[str] = mapped_column(String(32), primary_key=True)
    label: Mapped[str] = mapped_column(String(200), primary_key=True)
    hits: Mapped[int] = mapped_column(AMOUNT, default=0)
    total: Mapped[int] = mapped_column(AMOUNT, default=0)
    amount: Mapped[int] = mapped_column(AMOUNT, default=0)


class DailyRollup(db.Model):
    """A day whose figures (every currency) are in daily_totals, and when they were taken:
    a closed day whole (`through` = its end), today up to `through` (the rest read live)."""

    __tablename__ = "daily_rollups"

    day: Mapped[date] = mapped_column(primary_key=True)
    rolled_at: Mapped[datetime]
    through: Mapped[datetime]


class RollupMark(db.Model):
    """A named instant: "changes" = every payment change up to here is in the roll-ups."""

    __tablename__ = "rollup_marks"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    at: Mapped[datetime]
