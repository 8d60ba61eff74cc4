"""PSP clearing per provider, currency and day: what our ledger moved through a PSP that the
PSP's settlement data has not confirmed. A reconciliation's postings (settlements and
corrections) count on the report day they belong to, every other posting on the day it was
made; a fully settled day therefore sums to zero. Read-only."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import String, cast, func, select

from app.extensions import db
from app.models.ledger import LedgerEntry, LedgerTransaction
from app.models.reconciliation import ReconciliationPosting, SettlementImport


@dataclass(frozen=True)
class ClearingDay:
    """One provider's clearing in one currency for one day, and whether its report is in."""

    provider: str
    currency: str
    day: date
    amount: int
    imported: bool


def per_day(since: date, until: date) -> list[ClearingDay]:
    """Every provider and currency with clearing movements from `since` to `until` inclusive,
    one row per day (zero-filled)."""
    rp = ReconciliationPosting.__table__
    day = func.coalesce(rp.c.day, cast(func.date(LedgerTransaction.created_at), String))
    rows = db.session.execute(
        select(LedgerEntry.owner, LedgerEntry.currency, day.label("day"),
               func.sum(LedgerEntry.amount))
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .outerjoin(rp, rp.c.transaction_id == LedgerTransaction.id)
        .where(LedgerEntry.kind == "psp_clearing",
               LedgerTransaction.created_at >= since - timedelta(days=1))
        .group_by(LedgerEntry.owner, LedgerEntry.currency, day))
    sums: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    for owner, currency, on, amount in rows:
        sums[(owner, currency)][str(on)[:10]] = int(amount)
    imported = {(p, d) for p, d in db.session.execute(
        select(SettlementImport.provider, SettlementImport.day)
        .where(SettlementImport.status == "done"))}
    out = []
    days = [since + timedelta(days=i) for i in range((until - since).days + 1)]
    for (provider, currency), by_day in sorted(sums.items()):
        for d in days:
            out.append(ClearingDay(provider, currency, d, by_day.get(d.isoformat(), 0),
                                   (provider, d.isoformat()) in imported))
    return out


def unsettled_days(rows: list[ClearingDay]) -> list[ClearingDay]:
    """Days whose report was imported and whose clearing is still not zero."""
    return [r for r in rows if r.imported and r.amount != 0]
