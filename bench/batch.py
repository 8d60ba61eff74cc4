"""Batched ledger: ledger.post_many of many postings in one transaction against ledger.post in a
transaction of its own per posting, for the jobs that move money in bulk.

Shapes: the escrow sweep's release postings (seller escrow → available + platform fee; the
sweep, app/jobs/escrow.release_due, now writes them in batches of 200) and the payout run's
payout_sent postings (available → in transit). The settlement import (issue 13) has no posting
rule yet, so it is reported as not measurable rather than guessed.

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
    """One Result per job shape, and a line for the shape that cannot be measured yet."""
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
    return results


NOT_MEASURABLE = ["batched ledger: settlement import",
                  "  not measurable yet (issue 13): no settlement import or posting rule exists"]


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
