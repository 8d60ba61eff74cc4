"""Closed days stored once (`daily_totals`), today and anything not stored read live.

Why this is exact, not approximate:
- a day is rolled up only once it closed CLOSE_MARGIN ago, so no transaction that stamped a
  time on that day can still commit after it (ours last seconds);
- ledger legs, captures, cases, holds and settled refunds are never edited after the day they
  are stamped with, so a stored day stays true;
- a payment is (its authorization, decline, screening decision change later, and its day's
  rates with them): `payments.updated_at` moves on every change (ORM and Core updates alike),
  so a stored day with a payment changed after the mark "changes" is read live instead, and
  the next roll-up takes it again and moves the mark. The read looks only at the payments
  changed since the last roll-up: O(the last few minutes' changes), not O(history).
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta

from sqlalchemy import delete, func, insert, select

from app.clock import now
from app.database import unit_of_work
from app.extensions import db
from app.models import DisputeCase, EscrowHold, LedgerTransaction, Payment
from app.models.refunds import Refund
from app.models.reporting import DailyRollup, DailyTotal, RollupMark

from .daily import PAYMENT_METRICS, Figures, aggregate, as_day, day_start, payment_figures

CLOSE_MARGIN = timedelta(minutes=15)
CHUNK_DAYS = 31
CHANGES = "changes"


def last_closed_day(at: datetime) -> date:
    return (at - CLOSE_MARGIN).date() - timedelta(days=1)


def roll_up(at: datetime | None = None) -> list[date]:
    """Store every closed day not stored yet, again every stored day whose payments changed
    since the last run, and today up to the margin (re-taken each run, so the page reads live
    only the last minutes); returns the closed days written. The periodic job's one call."""
    at = at or now()
    closed = last_closed_day(at)
    first = _first_day()
    if first is None:
        return []
    _store_today(at)
    if first > closed:
        _move_mark(at - CLOSE_MARGIN)
        return []
    # Whole days only: a day stored while it was today (up to a moment) is taken again whole.
    stored = {d for d, through in db.session.execute(
        select(DailyRollup.day, DailyRollup.through).where(DailyRollup.day >= first))
        if through >= day_start(d + timedelta(days=1))}
    mark = _mark()
    todo = {d for d in _days(first, closed) if d not in stored}
    todo |= {d for d in _changed_days(mark, first, closed) if d in stored}
    # The mark trails the run by the margin: a change stamped just before `at` whose
    # transaction commits just after this read is looked at again by the next run.
    new_mark = at - CLOSE_MARGIN
    written = []
    for run in _runs(sorted(todo)):
        for i in range(0, len(run), CHUNK_DAYS):
            chunk = run[i:i + CHUNK_DAYS]
            with unit_of_work():
                _store(chunk, aggregate(chunk[0], chunk[-1]), at)
            written += chunk
    _move_mark(new_mark)
    return written


def _store_today(at: datetime) -> None:
    """Today (the day the margin ends in) from its start up to `at` less the margin."""
    through = at - CLOSE_MARGIN
    day = through.date()
    with unit_of_work():
        _store([day], aggregate(day, day, start=day_start(day), end=through), at, through)


def _move_mark(new_mark: datetime) -> None:
    with unit_of_work() as session:
        row = session.get(RollupMark, CHANGES)
        if row is None:
            session.add(RollupMark(name=CHANGES, at=new_mark))
        elif new_mark > row.at:
            row.at = new_mark


def _store(days: list[date], figures: Figures, at: datetime,
           through: datetime | None = None) -> None:
    first, last = days[0], days[-1]
    db.session.execute(delete(DailyTotal).where(DailyTotal.day >= first, DailyTotal.day <= last))
    db.session.execute(delete(DailyRollup).where(DailyRollup.day >= first,
                                                 DailyRollup.day <= last))
    rows = [{"currency": cur, "day": d, "metric": metric, "label": label[:200],
             "hits": h, "total": t, "amount": a}
            for (cur, d, metric, label), (h, t, a) in figures.items()]
    if rows:
        db.session.execute(insert(DailyTotal), rows)
    db.session.execute(insert(DailyRollup), [
        {"day": d, "rolled_at": at, "through": through or day_start(d + timedelta(days=1))}
        for d in days])


def figures(currency: str, first: date, last: date) -> Figures:
    """Every figure of the days from `first` to `last` in `currency`: stored days from
    daily_totals, the rest (today, days not rolled up yet) live. A stored day whose payments
    changed since the last roll-up has its payment figures (`daily.PAYMENT_METRICS`) read live
    whole; its ledger, captures, cases, holds and refunds never change after their day, so they
    stay stored (at a million orders today's live re-read of every source was ≈ 100 ms)."""
    through = dict(db.session.execute(select(DailyRollup.day, DailyRollup.through).where(
        DailyRollup.day >= first, DailyRollup.day <= last)).all())
    stored = set(through)
    stale = _changed_days(_mark(), first, last) & stored if stored else set()
    out = Found()
    if stored:
        # Columns, not ORM objects: ≈ 180 rows a day, thousands for a month.
        for day, metric, label, hits, total, amount in db.session.execute(select(
                DailyTotal.day, DailyTotal.metric, DailyTotal.label, DailyTotal.hits,
                DailyTotal.total, DailyTotal.amount).where(
                DailyTotal.currency == currency, DailyTotal.day >= first,
                DailyTotal.day <= last)):
            if day not in stale or metric not in PAYMENT_METRICS:
                out[(currency, day, metric, label)] = [hits, total, amount]
    for run in _runs([d for d in _days(first, last) if d not in stored]):
        out.update(aggregate(run[0], run[-1], currency))
    for run in _runs(sorted(stale)):
        out.update(payment_figures(run[0], run[-1], currency))
    for day in stored:  # today: stored up to `through`, the minutes since read live
        if through[day] < day_start(day + timedelta(days=1)):
            for key, (h, t, a) in aggregate(day, day, currency, start=through[day]).items():
                if day in stale and key[2] in PAYMENT_METRICS:
                    continue  # already read whole, live
                row = out.setdefault(key, [0, 0, 0])
                out[key] = [row[0] + h, row[1] + t, row[2] + a]
    return out


class Found(dict):
    """Figures whose metrics are indexed once: the dashboard sums sixteen metrics, and each
    `summed` walked every key (thousands for a month at a million orders)."""

    _by_metric: dict[str, list] | None = None

    def of_metric(self, metric: str) -> list:
        if self._by_metric is None:
            self._by_metric = defaultdict(list)
            for key, value in self.items():
                self._by_metric[key[2]].append((key[3], value))
        return self._by_metric.get(metric, [])


def _first_day() -> date | None:
    found = [db.session.scalar(select(func.min(column))) for column in (
        LedgerTransaction.created_at, Payment.created_at, EscrowHold.created_at,
        DisputeCase.created_at, Refund.settled_at)]
    found = [f for f in found if f is not None]
    return min(found).date() if found else None


def currencies() -> list[str]:
    """Currencies the books have seen: the stored days' and the ledger's since them."""
    seen: set[str] = set()
    found = db.session.scalar(select(func.min(DailyTotal.currency)))
    while found is not None:  # one primary-key seek per currency, never a scan of the table
        seen.add(found)
        found = db.session.scalar(select(func.min(DailyTotal.currency))
                                  .where(DailyTotal.currency > found))
    last = db.session.scalar(select(func.max(DailyRollup.through)))
    since = LedgerTransaction.created_at >= last if last else True
    seen |= set(db.session.execute(select(LedgerTransaction.currency).where(since)
                                   .distinct()).scalars())
    return sorted(seen)


def _mark() -> datetime | None:
    return db.session.scalar(select(RollupMark.at).where(RollupMark.name == CHANGES))


def _changed_days(mark: datetime | None, first: date, last: date) -> set[date]:
    """Days (from `first` to `last`) of the payments changed after the mark: their stored
    rates may be out of date. No mark yet: every day."""
    if mark is None:
        return set(_days(first, last))
    # Only `updated_at` in the WHERE: given the created_at range too, SQLite chose its index
    # and read every payment of the range (15 ms at 100,000 orders); the payments changed since
    # the mark are few by design (the job moves it every ROLLUP_SECONDS).
    found = {as_day(d) for d in db.session.execute(
        select(func.date(Payment.created_at)).where(Payment.updated_at > mark)
        .distinct()).scalars()}
    return {d for d in found if first <= d <= last}


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _runs(days: list[date]) -> list[list[date]]:
    """Sorted days → runs of consecutive days (one live query per run)."""
    runs: list[list[date]] = []
    for d in days:
        if runs and d - runs[-1][-1] == timedelta(days=1):
            runs[-1].append(d)
        else:
            runs.append([d])
    return runs


def summed(found: Figures, metric: str) -> dict[str, list[int]]:
    """One metric's [hits, total, amount] per label, summed over the days."""
    if isinstance(found, Found):
        pairs = found.of_metric(metric)
    else:
        pairs = [(key[3], value) for key, value in found.items() if key[2] == metric]
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for label, (h, t, a) in pairs:
        row = out[label]
        row[0] += h
        row[1] += t
        row[2] += a
    return dict(out)
