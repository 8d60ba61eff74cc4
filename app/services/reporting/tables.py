"""The dashboard as tables: each chart's figures, shown under it and exported as CSV.

Cells are plain text (amounts as decimal strings of the period's currency, rates as
percentages with two decimals), so the page and the CSV say exactly the same thing.
"""
from __future__ import annotations

from dataclasses import dataclass

from app.domain.money import Money, to_decimal_string

from .dashboard import Dashboard, Rate


@dataclass(frozen=True)
class Table:
    """One section's figures."""

    name: str        # URL-safe: /admin/reports/<name>.csv
    title: str
    headers: tuple[str, ...]
    rows: list[tuple[str, ...]]


def percent(rate: float) -> str:
    return f"{rate * 100:.2f} %"


def _rates(name: str, title: str, what: str, rates: list[Rate], hits: str, total: str) -> Table:
    return Table(name, title, (what, hits, total, "rate"),
                 [(r.label, str(r.hits), str(r.total), percent(r.rate)) for r in rates])


def tables(d: Dashboard) -> dict[str, Table]:
    """Every section of the dashboard, by name."""
    cur = d.period.currency

    def amount(minor: int) -> str:
        return to_decimal_string(Money(minor, cur))

    t = d.totals
    found = [
        Table("totals", "Revenue", ("figure", f"amount ({cur})"), [
            ("GMV (captured)", amount(t.gmv)), ("Platform fee revenue", amount(t.platform_fees)),
            ("PSP fees", amount(t.psp_fees)), ("Dispute losses", amount(t.dispute_losses)),
            ("Net revenue", amount(t.net_revenue)), ("Refunded", amount(t.refunded))]),
        Table("daily", "Per day", ("day", f"GMV ({cur})", f"platform fees ({cur})",
                                   f"PSP fees ({cur})"),
              [(day.isoformat(), amount(g), amount(f), amount(p)) for day, g, f, p in d.daily]),
        _rates("auth-provider", "Authorization rate by PSP", "PSP", d.auth_by_provider,
               "authorized", "attempted"),
        _rates("auth-route", "Authorization rate by route", "routing rule", d.auth_by_route,
               "authorized", "attempted"),
        _rates("auth-mode", "Authorization rate by integration mode", "mode", d.auth_by_mode,
               "authorized", "attempted"),
        _rates("declines", "Decline reasons", "reason", d.declines, "declined",
               "all declined"),
        Table("refunds", "Refunds", ("refunds", f"amount ({cur})", "payments captured",
                                     "refund rate"),
              [(str(d.refunds.hits), amount(d.refunds.amount), str(d.refunds.total),
                percent(d.refunds.rate))]),
        _rates("disputes-provider", "Dispute rate by PSP", "PSP", d.disputes_by_provider,
               "chargebacks", "payments captured"),
        _rates("disputes-seller", "Dispute rate by seller", "seller", d.disputes_by_seller,
               "chargebacks", "orders captured"),
        Table("escrow", "Escrow held by age (open lines today)",
              ("age", "lines", f"amount ({cur})"),
              [(r.label, str(r.hits), amount(r.amount)) for r in d.escrow_ages]),
        Table("payouts", "Payouts", ("status", "payouts", f"amount ({cur})"),
              [(r.label, str(r.hits), amount(r.amount)) for r in d.payouts]),
        _rates("fraud", "Fraud screening decisions", "decision", d.fraud, "payments",
               "screened"),
    ]
    return {table.name: table for table in found}
