"""Batched ledger: ledger.post_many of many postings in one transaction against ledger.post in a
transaction of its own per posting, for the jobs that move money in bulk.

Shapes: the escrow sweep's release postings (seller escrow → available + platform fee; the
sweep, app/jobs/escrow.release_due, now writes them in batches of 200) and the payout run's
payout_sent postings (available → in transit).

The settlement import (services/reconciliation/imports.py) posts nothing per line: it stores
each page of the PSP's settlement lines, and matching then moves the day's money with one
`settled` posting per currency (N lines, one posting: more than batching could give). What it
writes per line is the line itself, so its ratio is a page of lines stored as `run_import`
stores them (one transaction, one lookup of the references, one multi-row INSERT) against the
same lines stored one transaction each.

Target ≥ 10×: one posting alone pays for BEGIN IMMEDIATE, the exactly-once lookup, two INSERT
round trips and a commit; in a batch those become one transaction and three statements for
the lot (lookup by IN, one multi-row INSERT … RETURNING, one INSERT of every leg), so what
remains per posting is building its rows. Under 10× the batch has slipped back to a statement
per posting (or the job to a transaction per posting).
"""
from __future__ import annotations

import itertools

from bench.measure import Result, best_rates

TARGET = 10.0
SELLERS = 50
_serial = itertools.count()


def shapes() -> dict[str, callable]:
    """name → function(n) building n postings of that job's kind."""
    from app.domain import ledger as rules

    return {
        "escrow sweep (release)": lambda i: rules.release(i % SELLERS + 1, "EUR", 2400, 240),
        "payout run (payout_sent)": lambda i: rules.payout_sent(i % SELLERS + 1, "EUR", 2160),
    }


def batched(build, count: int) -> int:
    """The subject: every posting in one unit_of_work through post_many."""
    from app.database import unit_of_work
    from app.services.money import ledger

    run = next(_serial)
    with unit_of_work():
        return ledger.post_many([ledger.Intent(build(i), f"bench:{run}:{i}")
                                 for i in range(count)])


def one_by_one(build, count: int) -> int:
    """The baseline: a unit_of_work and a post() per posting, as the jobs did."""
    from app.database import unit_of_work
    from app.services.money import ledger

    run, new = next(_serial), 0
    for i in range(count):
        with unit_of_work():
            new += ledger.post(build(i), f"bench:{run}:{i}")
    return new


def run(app, count: int, rounds: int) -> list[Result]:
    """One Result per job shape: escrow sweep, payout run, settlement import."""
    results = []
    for name, build in shapes().items():
        def subject(n, build=build):
            _expect(batched(build, n), n)

        def baseline(n, build=build):
            _expect(one_by_one(build, n), n)

        subject(count)  # warm-up
        baseline(count)
        fast, slow = best_rates(subject, baseline, count, rounds)
        results.append(Result(f"batched ledger: {name}, one transaction vs one per posting",
                              "postings/s", fast, slow, TARGET,
                              note=f"{count} postings per round × best of {rounds} rounds"))
    _check_balanced()
    results.append(run_import_shape(count, rounds))
    return results


def settlement_lines(count: int) -> list:
    """A page of `count` fresh charge lines, as a PSP's settlement report gives them."""
    from app.providers.records import SettlementLine

    run = next(_serial)
    return [SettlementLine(reference=f"txn_bench_{run}_{i}", type="charge",
                           source=f"ps_bench_{run}_{i}", payment=f"ps_bench_{run}_{i}",
                           gross=2400, fee=95, net=2305, currency="EUR",
                           created=1_765_000_000 + i) for i in range(count)]


def import_page(count: int) -> int:
    """The subject: one page stored as run_import stores it (one unit_of_work)."""
    from app.database import unit_of_work
    from app.services.reconciliation import imports

    lines = settlement_lines(count)
    with unit_of_work():
        return imports.store_lines("sandbox", lines)


def import_line_by_line(count: int) -> int:
    """The baseline: the same lines, a unit_of_work each."""
    from app.database import unit_of_work
    from app.services.reconciliation import imports

    stored = 0
    for line in settlement_lines(count):
        with unit_of_work():
            stored += imports.store_lines("sandbox", [line])
    return stored


def run_import_shape(count: int, rounds: int) -> Result:
    """The settlement import's ratio: a page in one transaction against a line per one."""
    def subject(n):
        _expect(import_page(n), n)

    def baseline(n):
        _expect(import_line_by_line(n), n)

    subject(count)  # warm-up
    baseline(count)
    fast, slow = best_rates(subject, baseline, count, rounds)
    return Result("batched writes: settlement import, a page per transaction vs a line per "
                  "transaction", "lines/s", fast, slow, TARGET,
                  note=f"{count} lines per round × best of {rounds} rounds; the day's money is "
                       "one settled posting per currency (matching), not one per line")


def _expect(new: int, count: int) -> None:
    if new != count:
        raise RuntimeError(f"{count} fresh intents, {new} posted")


def _check_balanced() -> None:
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models.ledger import LedgerEntry

    unbalanced = db.session.execute(
        select(LedgerEntry.transaction_id).group_by(LedgerEntry.transaction_id)
        .having(func.sum(LedgerEntry.amount) != 0)).first()
    if unbalanced:
        raise RuntimeError(f"transaction {unbalanced[0]} does not balance")
