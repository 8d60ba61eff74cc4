"""The tax rates table the admin maintains (page, file, CLI; every change audited), the tax an
order line takes, and the per-country report of tax collected, read from the ledger."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, time

from sqlalchemy import delete, select

from app.database import unit_of_work
from app.domain import tax as rules
from app.domain.ledger import AccountKind
from app.extensions import db
from app.models.fx_tax import TaxRateRow
from app.models.ledger import LedgerEntry, LedgerTransaction
from app.services import audit
from app.services.audit import Actor
from app.services.errors import NotFound, ServiceError


def table() -> dict[tuple[str, str], int]:
    """(country, category) → basis points."""
    rows = db.session.execute(select(TaxRateRow)).scalars()
    return {(row.country, row.category): row.bps for row in rows}


def listing() -> list[rules.TaxRate]:
    """Every row, by country then category."""
    rows = db.session.execute(
        select(TaxRateRow).order_by(TaxRateRow.country, TaxRateRow.category)).scalars()
    return [rules.TaxRate(row.country, row.category, row.bps) for row in rows]


def set_rate(country: str, category: str, percent: str, actor: Actor) -> rules.TaxRate:
    """Add or change one rate; the audit record keeps the old and the new value."""
    try:
        rate = rules.TaxRate(country.strip().upper(), category, rules.parse_percent(percent))
    except rules.TaxError as exc:
        raise ServiceError(str(exc)) from None
    with unit_of_work():
        row = db.session.execute(select(TaxRateRow).where(
            TaxRateRow.country == rate.country, TaxRateRow.category == rate.category)
        ).scalar_one_or_none()
        before = row.bps if row else None
        if row is None:
            db.session.add(TaxRateRow(country=rate.country, category=rate.category, bps=rate.bps))
        else:
            row.bps = rate.bps
        audit.record(actor, "tax.rate_set", f"tax_rate:{rate.country}/{rate.category}",
                     before_bps=before, bps=rate.bps)
    return rate


def remove_rate(country: str, category: str, actor: Actor) -> None:
    """Delete one rate (sales in that country and category then take the fallback)."""
    with unit_of_work():
        row = db.session.execute(select(TaxRateRow).where(
            TaxRateRow.country == country, TaxRateRow.category == category)).scalar_one_or_none()
        if row is None:
            raise NotFound("No such tax rate.")
        audit.record(actor, "tax.rate_removed", f"tax_rate:{country}/{category}",
                     before_bps=row.bps)
        db.session.delete(row)


def import_csv(text: str, actor: Actor) -> int:
    """Replace the whole table with a rates file (all or nothing); how many rows it holds."""
    try:
        parsed = rules.parse_rates_csv(text)
    except rules.TaxError as exc:
        raise ServiceError(f"The rates file was not loaded: {exc}") from None
    with unit_of_work():
        before = table()
        db.session.execute(delete(TaxRateRow))
        db.session.add_all(TaxRateRow(country=r.country, category=r.category, bps=r.bps)
                           for r in parsed)
        after = {(r.country, r.category): r.bps for r in parsed}
        changed = sorted(f"{c}/{k}" for c, k in set(before) | set(after)
                         if before.get((c, k)) != after.get((c, k)))
        audit.record(actor, "tax.rates_imported", "tax_rates", rows=len(parsed),
                     changed=changed[:200])
    return len(parsed)


def export_csv() -> str:
    """The table as a rates file (what import_csv reads)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["country", "category", "rate"])
    for rate in listing():
        writer.writerow([rate.country, rate.category, rate.percent])
    return out.getvalue()


@dataclass(frozen=True)
class ReportRow:
    """Tax for one country in one currency over a period: collected, given back by refunds,
    taken back by the buyer's bank (lost chargebacks), net owed."""

    country: str
    currency: str
    collected: int
    refunded: int
    charged_back: int = 0

    @property
    def net(self) -> int:
        """What is owed to that country's tax authority for the period."""
        return self.collected - self.refunded - self.charged_back


def report(start: date, end: date) -> list[ReportRow]:
    """Tax collected per country and currency in [start, end] (dates inclusive), from the
    ledger's tax-payable accounts: credits were collected, debits were given back (by a lost
    chargeback when the posting is `dispute_tax`), each in the period it was posted."""
    if end < start:
        raise ServiceError("The period ends before it starts.")
    since, until = datetime.combine(start, time.min), datetime.combine(end, time.max)
    rows = db.session.execute(
        select(LedgerEntry.owner, LedgerEntry.currency, LedgerEntry.amount,
               LedgerTransaction.event)
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .where(LedgerEntry.kind == AccountKind.TAX_PAYABLE.value,
               LedgerTransaction.created_at >= since, LedgerTransaction.created_at <= until))
    totals: dict[tuple[str, str], list[int]] = {}
    for country, currency, amount, event in rows:
        sums = totals.setdefault((country, currency), [0, 0, 0])
        if amount < 0:
            sums[0] += -amount
        else:
            sums[2 if event == "dispute_tax" else 1] += amount
    return [ReportRow(c, cur, *sums) for (c, cur), sums in sorted(totals.items())]


def report_csv(start: date, end: date) -> str:
    """The report as CSV, amounts in minor units with their currency (what a filing needs)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["country", "currency", "collected_minor", "refunded_minor",
                     "charged_back_minor", "net_minor", "period_start", "period_end"])
    for row in report(start, end):
        writer.writerow([row.country, row.currency, row.collected, row.refunded,
                         row.charged_back, row.net, start.isoformat(), end.isoformat()])
    return out.getvalue()
