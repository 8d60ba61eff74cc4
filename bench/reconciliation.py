"""Reconciliation: matching a settlement day against the ledger (services/reconciliation/
matching.match_day) against a raw SQL aggregate over the same rows.

The day has `count` PSP lines (disputes, whose ledger side needs no join to a payment row: the
cheapest shape to build in bulk, and the same two grouped queries as any other) and `count`
ledger transactions that moved PSP clearing by the same amounts. The subject classifies every
object, writes nothing for the ones that agree but the settlement posting per (day, currency),
and marks the lines settled — all in one unit of work. The baseline is one SELECT that groups
both sides and joins them: the least any matching must read.

Target ≥ 0.33× (within 3× of the aggregate, issue 13's "small factor"): set-based matching
reads each side once, grouped; a query per line, or a Python loop doing SQL, would fall orders
of magnitude below.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from bench.measure import Result, best_rates, rate

TARGET = 0.33
PROVIDER = "sandbox"


def build_day(day: datetime, count: int, tag: str) -> None:
    """`count` matching pairs on `day`: a dispute line at the PSP and our dispute posting."""
    from sqlalchemy import insert

    from app.extensions import db
    from app.models.ledger import LedgerEntry, LedgerTransaction
    from app.models.reconciliation import SettlementLine
    from app.services.reconciliation.ledger_events import psp_object

    stamp, iso = day + timedelta(hours=12), day.date().isoformat()
    refs = [f"dp_{tag}_{i}" for i in range(count)]
    legs = [[{"account": f"dispute_reserve:{PROVIDER}", "kind": "dispute_reserve",
              "owner": PROVIDER, "currency": "EUR", "amount": 1000 + i, "created_at": stamp},
             {"account": f"psp_clearing:{PROVIDER}", "kind": "psp_clearing", "owner": PROVIDER,
              "currency": "EUR", "amount": -(1000 + i), "created_at": stamp}]
            for i in range(count)]
    # What ledger.post stores for the same postings (the PSP object of each, from its legs).
    txns = [{"intent": f"dispute_opened:{PROVIDER}:{ref}", "event": "dispute_opened",
             "currency": "EUR", "created_at": stamp} for ref in refs]
    for txn, posting in zip(txns, legs, strict=True):
        txn.update(psp_object(txn["event"], txn["intent"], posting))
    ids = db.session.execute(
        insert(LedgerTransaction).returning(LedgerTransaction.id, sort_by_parameter_order=True),
        txns).scalars().all()
    db.session.execute(insert(LedgerEntry), [
        {**leg, "transaction_id": txn_id}
        for txn_id, posting in zip(ids, legs, strict=True) for leg in posting])
    db.session.execute(insert(SettlementLine), [
        {"provider": PROVIDER, "reference": f"txn_{tag}_{i}", "day": iso, "type": "dispute",
         "source": ref, "payment": None, "gross": -(1000 + i), "fee": 0, "net": -(1000 + i),
         "currency": "EUR", "created": int(stamp.timestamp()), "payout": None,
         "description": ""} for i, ref in enumerate(refs)])
    db.session.commit()


def match(day: datetime) -> int:
    """The subject: one day's match in its own unit of work; lines settled."""
    from app.database import unit_of_work
    from app.services.reconciliation import matching

    with unit_of_work():
        result = matching.match_day(PROVIDER, day.date().isoformat())
    return result.settled_lines


# The baseline reads the day's rows and nothing else: the day's lines through the day index,
# the day's ledger transactions through created_at and their clearing legs by transaction.
# Written so that no planner can read them another way (before 2026-12-07 SQLite read every
# clearing leg the provider ever had through the account index, and every line through the
# source index, which made the baseline slower with each day the bench had built: it
# flattered the subject). MATERIALIZED keeps the day's rows apart; CROSS JOIN fixes SQLite's
# join order (PostgreSQL plans it as an inner join, by its statistics).
# Since migration 0050 our side of an object is what ledger.post stored on its transaction, so
# the least any matching must read is the day's lines and the day's transactions' stored
# objects — no legs. That is the baseline (stronger than the one before it, which also joined
# every transaction's clearing leg and so was slower: LEGS_BASELINE, still printed beside it).
BASELINE = """
    WITH day_lines AS MATERIALIZED (
           SELECT source, net FROM settlement_lines WHERE provider = :p AND day = :d),
         day_txns AS MATERIALIZED (
           SELECT psp_type, psp_ref, psp_net FROM ledger_transactions
            WHERE psp_provider = :p AND created_at >= :s AND created_at < :e
              AND psp_ref IS NOT NULL)
    SELECT count(*) FROM
      (SELECT source, sum(net) AS net FROM day_lines GROUP BY source) l
    JOIN
      (SELECT psp_ref, sum(psp_net) AS net FROM day_txns GROUP BY psp_type, psp_ref) g
    ON g.psp_ref = l.source AND g.net = l.net
"""
LEGS_BASELINE = """
    WITH day_lines AS MATERIALIZED (
           SELECT source, net FROM settlement_lines WHERE provider = :p AND day = :d),
         day_txns AS MATERIALIZED (
           SELECT id, intent FROM ledger_transactions
            WHERE created_at >= :s AND created_at < :e)
    SELECT count(*) FROM
      (SELECT source, sum(net) AS net FROM day_lines GROUP BY source) l
    JOIN
      (SELECT t.intent AS intent, sum(e.amount) AS net
         FROM day_txns t CROSS JOIN ledger_entries e
        WHERE e.transaction_id = t.id AND e.account = :a
        GROUP BY t.intent) g
    ON g.intent = 'dispute_opened:' || :p || ':' || l.source AND g.net = l.net
"""


def aggregate(day: datetime, query: str = BASELINE) -> int:
    """The baseline: both sides grouped by object and joined, in one SELECT; matching rows."""
    from sqlalchemy import text

    from app.extensions import db

    return db.session.execute(text(query), {
        "p": PROVIDER, "d": day.date().isoformat(), "s": day, "e": day + timedelta(days=1),
        "a": f"psp_clearing:{PROVIDER}"}).scalar_one()


def run(app, count: int, rounds: int) -> Result:
    """Build one day per round (10 days apart), then time both sides on each day."""
    base = datetime(2030, 1, 1)
    days = [base + timedelta(days=10 * r) for r in range(rounds + 1)]
    for r, day in enumerate(days):
        build_day(day, count, f"r{r}")
    _analyze()
    subject_days, baseline_days = list(days), list(days)
    settled = []

    def subject(_):
        settled.append(match(subject_days.pop()))

    def baseline(_):
        if aggregate(baseline_days.pop()) != count:
            raise RuntimeError("the baseline did not find every matching pair")

    subject(count)  # warm-up on the last day
    baseline(count)
    subject_rate, baseline_rate = best_rates(subject, baseline, count, rounds)
    if settled != [count] * (rounds + 1):
        raise RuntimeError(f"matching settled {settled}, not {count} lines per day")
    _check_no_differences()
    legs_rate = max(rate(lambda _, d=d: aggregate(d, LEGS_BASELINE), count)
                    for d in days[1:])
    from app.extensions import db

    engine = {"postgresql": "PostgreSQL"}.get(db.engine.dialect.name, "SQLite")
    return Result(f"reconciliation, {engine}: match_day (classify, settle) vs one grouped SQL "
                  "join",
                  "lines/s", subject_rate, baseline_rate, TARGET,
                  note=f"{count} lines and {count} ledger transactions per day × best of "
                       f"{rounds} rounds; every line matched and settled; against the "
                       f"baseline that also joins the clearing legs ({legs_rate:,.0f} lines/s): "
                       f"{subject_rate / legs_rate:.3f}")


def _analyze() -> None:
    """PostgreSQL: the statistics autovacuum would have gathered after a day's import (a
    planner that believes the tables empty plans both sides blind). SQLite keeps none."""
    from sqlalchemy import text

    from app.extensions import db

    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("ANALYZE"))
        db.session.commit()


def _check_no_differences() -> None:
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models.reconciliation import Difference

    found = db.session.execute(select(func.count()).select_from(Difference)).scalar_one()
    if found:
        raise RuntimeError(f"{found} differences where every pair matches")
