"""The admin and finance dashboard: money from the ledger, rates from the payment events.

Every figure is a sum over the days of the range: closed days read from their stored roll-ups
(`rollups.py`, O(days × currencies) rows), today and any day not rolled up yet from one set of
grouped queries (`daily.py`), so the page costs about the same at a million orders
(bench/scale.py). Money comes from the ledger's legs, so it equals what the books say:

- GMV: escrow credits of capture postings (what buyers paid and we captured);
- platform fee revenue: the platform_fees account's movement (fees kept at release, less fees
  given back with refunds and lost chargebacks);
- PSP fees: the psp_fees account's movement; dispute losses: the dispute_losses account's;
- net revenue: platform fee revenue − PSP fees − dispute losses;
- refunds: PSP clearing credits of refund postings less refund reversals.

Rates count payments: a payment "attempted" once the PSP authorized it or declined a card on it
(an abandoned session attempted nothing); the dispute rate is chargebacks opened in the range
over payments captured in the range, the count the card networks' programmes watch.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import func, select

from app.clock import now
from app.domain.ledger import AccountKind
from app.extensions import db
from app.models.payouts import Payout
from app.models.users import User
from app.services.money import escrow_open

from . import rollups
from .daily import Figures
from .period import Period, parse_period  # noqa: F401  (the dashboard's period, re-exported)

# The card networks' dispute monitoring thresholds (count of disputes / count of sales in a
# month): Visa's early warning at 0.9 %, Mastercard's Excessive Chargeback Merchant at 1.5 %.
THRESHOLDS = ((0.009, "0.9 % Visa monitoring"), (0.015, "1.5 % Mastercard ECM"))
ESCROW_AGES = ((0, 7, "0–7 days"), (8, 14, "8–14 days"), (15, 30, "15–30 days"),
               (31, None, "over 30 days"))


@dataclass(frozen=True)
class Totals:
    """The money figures of a period, minor units of its currency."""

    gmv: int
    platform_fees: int
    psp_fees: int
    dispute_losses: int
    refunded: int

    @property
    def net_revenue(self) -> int:
        return self.platform_fees - self.psp_fees - self.dispute_losses


@dataclass(frozen=True)
class Rate:
    """A count out of a count (and an amount, where there is one)."""

    label: str
    hits: int
    total: int
    amount: int = 0

    @property
    def rate(self) -> float:
        return self.hits / self.total if self.total else 0.0


@dataclass
class Dashboard:
    """Everything the page shows for one period."""

    period: Period
    totals: Totals
    daily: list[tuple[date, int, int, int]]          # day, GMV, platform fees, PSP fees
    auth_by_provider: list[Rate]
    auth_by_route: list[Rate]
    auth_by_mode: list[Rate]
    declines: list[Rate]                              # reason, count, of all declined
    refunds: Rate                                     # refunds count, of payments captured
    disputes_by_provider: list[Rate]
    disputes_by_seller: list[Rate]
    escrow_held: int
    escrow_ages: list[Rate]                           # bucket, lines, amount
    payouts: list[Rate]                               # status, count, amount
    fraud: list[Rate]                                 # decision, count, of screened
    currencies: list[str] = field(default_factory=list)


def _figures(period: Period) -> Figures:
    return rollups.figures(period.currency, period.first, period.last)


def _ledger(found: Figures, kind: AccountKind, events: tuple[str, ...] | None = None) -> int:
    return sum(a for label, (_, _, a) in rollups.summed(found, "ledger").items()
               if label.split(":", 1)[0] == kind.value
               and (events is None or label.split(":", 1)[1] in events))


def totals(found: Figures) -> Totals:
    """The period's money, from the ledger (each figure on its account's normal side)."""
    refunded = -_ledger(found, AccountKind.PSP_CLEARING, ("refund", "refund_reversed"))
    return Totals(gmv=-_ledger(found, AccountKind.ESCROW, ("capture",)),
                  platform_fees=-_ledger(found, AccountKind.PLATFORM_FEES),
                  psp_fees=_ledger(found, AccountKind.PSP_FEES),
                  dispute_losses=_ledger(found, AccountKind.DISPUTE_LOSSES),
                  refunded=refunded)


def daily(period: Period, found: Figures) -> list[tuple[date, int, int, int]]:
    """GMV, platform fees and PSP fees per day."""
    by_day: dict[date, list[int]] = {d: [0, 0, 0] for d in period.days}
    for (_, day, metric, label), (_, _, amount) in found.items():
        if metric != "ledger" or day not in by_day:
            continue
        kind, event = label.split(":", 1)
        if kind == "escrow" and event == "capture":
            by_day[day][0] -= amount
        elif kind == "platform_fees":
            by_day[day][1] -= amount
        elif kind == "psp_fees":
            by_day[day][2] += amount
    return [(d, *by_day[d]) for d in period.days]


def _rates(found: Figures, metric: str, drop_empty: bool = False) -> list[Rate]:
    return [Rate(label, h, t) for label, (h, t, _) in sorted(rollups.summed(found, metric).items())
            if t or not drop_empty]


def auth_rates(found: Figures, metric: str) -> list[Rate]:
    """Authorized / attempted payments created in the period, by PSP, route or mode."""
    return _rates(found, metric, drop_empty=True)


def declines(found: Figures) -> list[Rate]:
    """Declined payments by reason, most frequent first."""
    counts = sorted(((label, h) for label, (h, _, _) in rollups.summed(found, "decline").items()),
                    key=lambda r: (-r[1], r[0]))
    total = sum(n for _, n in counts)
    return [Rate(code, n, total) for code, n in counts]


def _captured(found: Figures) -> dict[str, int]:
    return {p: h for p, (h, _, _) in rollups.summed(found, "captured").items()}


def refunds(found: Figures, refunded: int) -> Rate:
    """Refunds that succeeded in the period, against payments captured in the period."""
    count = sum(h for h, _, _ in rollups.summed(found, "refunds").values())
    return Rate("refunds", count, sum(_captured(found).values()), refunded)


def disputes_by_provider(found: Figures) -> list[Rate]:
    """Chargebacks opened / payments captured in the period, per PSP."""
    captured = _captured(found)
    opened = {p: h for p, (h, _, _) in rollups.summed(found, "chargebacks").items()}
    return [Rate(p, opened.get(p, 0), captured.get(p, 0))
            for p in sorted(set(captured) | set(opened))]


def disputes_by_seller(found: Figures, limit: int = 20) -> list[Rate]:
    """Chargebacks opened on orders with the seller's lines / the seller's orders captured in
    the period; the highest rates first, at most `limit` sellers."""
    sales = {int(s): h for s, (h, _, _) in rollups.summed(found, "seller_orders").items() if h}
    hits = {int(s): h for s, (h, _, _) in rollups.summed(found, "seller_chargebacks").items()}
    top = sorted(sales, key=lambda s: (-hits.get(s, 0) / sales[s], -sales[s], s))[:limit]
    people = {u.id: u for u in db.session.execute(
        select(User).where(User.id.in_(top))).scalars()} if top else {}
    return [Rate(f"{people[s].display_name} <{people[s].email}>", hits.get(s, 0), sales[s])
            for s in top if s in people]


def escrow(period: Period) -> tuple[int, list[Rate]]:
    """Escrow held at the end of the period (ledger), and today's open lines by age.

    A line's age is in whole UTC days since its capture (captured today: 0 days), so the
    buckets are sums of the open-escrow roll-up's days (`money/escrow_open`, one row per
    capture day: O(days), never a pass over the open lines). The ledger's escrow balance today
    equals what the open lines still hold (the invariant `ledger_checks.escrow_matches_holds`,
    asserted after every test), so the balance at the period's end is today's open escrow less
    the escrow legs booked since, from the roll-ups of the days after the range.
    """
    today = now().date()
    found = [[0, 0] for _ in ESCROW_AGES]
    for day, lines, amount in escrow_open.by_day(period.currency):
        age = (today - day).days
        i = next(i for i, (low, high, _) in enumerate(ESCROW_AGES)
                 if high is None or age <= high)
        found[i][0] += lines
        found[i][1] += amount
    buckets = [Rate(label, found[i][0], 0, found[i][1])
               for i, (_, _, label) in enumerate(ESCROW_AGES)]
    held_now = sum(r.amount for r in buckets)
    after = period.last + timedelta(days=1)
    since = 0
    if after <= today:
        since = _ledger(rollups.figures(period.currency, after, today), AccountKind.ESCROW)
    held = held_now + since  # legs are + debit: a capture since (credit) was not held then
    return held, buckets


def _in_period(column, period: Period):
    return (column >= period.start) & (column < period.end)


def payouts(period: Period) -> list[Rate]:
    """Payouts created in the period by status: count and amount. Read live: payouts grow with
    sellers and days, not with orders, and their status moves for days after."""
    rows = db.session.execute(
        select(Payout.status, func.count(), func.sum(Payout.amount))
        .where(Payout.currency == period.currency, _in_period(Payout.created_at, period))
        .group_by(Payout.status).order_by(Payout.status)).all()
    total = sum(n for _, n, _ in rows)
    return [Rate(status, int(n), total, int(amount or 0)) for status, n, amount in rows]


def fraud(found: Figures) -> list[Rate]:
    """Payments created in the period by fraud screening's decision."""
    rows = rollups.summed(found, "fraud")
    total = sum(h for h, _, _ in rows.values())
    return [Rate(decision, h, total) for decision, (h, _, _) in sorted(rows.items())]


def currencies() -> list[str]:
    """Currencies the ledger has seen (for the selector), from the roll-ups and the days since."""
    return rollups.currencies()


def build(period: Period) -> Dashboard:
    """The whole dashboard for one period."""
    found = _figures(period)
    money = totals(found)
    held, ages = escrow(period)
    return Dashboard(
        period=period, totals=money, daily=daily(period, found),
        auth_by_provider=auth_rates(found, "auth_provider"),
        auth_by_route=auth_rates(found, "auth_route"),
        auth_by_mode=auth_rates(found, "auth_mode"),
        declines=declines(found), refunds=refunds(found, money.refunded),
        disputes_by_provider=disputes_by_provider(found),
        disputes_by_seller=disputes_by_seller(found),
        escrow_held=held, escrow_ages=ages, payouts=payouts(period), fraud=fraud(found),
        currencies=sorted(set(currencies()) | {period.currency}))
