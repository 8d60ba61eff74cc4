"""Ledger posting: services.ledger.post(rules.capture(...)) against raw inserts of the same rows.

The subject is how every money movement is booked: the posting rule builds and checks a
balanced Posting, post() looks the intent up (exactly-once: a replayed job posts nothing) and
adds the transaction and its legs through the ORM, inside unit_of_work (BEGIN IMMEDIATE). The
baseline writes the same transaction row and the same four legs with Core INSERTs and commits,
one posting per commit like the subject, with no rule, no lookup and no ORM bookkeeping.

Target ≥ 0.4×: over the baseline's writes and commit, the subject adds one indexed SELECT (the
intent), building the Posting and BEGIN IMMEDIATE: bounded per-posting costs. post() written with
the same Core INSERTs measured ≈ 0.5× on this machine (README), so 0.4× leaves room for noise;
below it, post() does avoidable work on the path every capture, release, refund and payout
takes, or has started doing work that grows (a balance over all entries, a query per leg).
A replay of the same intents is also timed and checked: it must post nothing.
"""
from __future__ import annotations

from bench.measure import Result, best_rates, rate

TARGET = 0.4
SHARES = (6000, 2500, 1500)  # three sellers' lines in one captured order of 100.00


def postings(sellers: list[int]):
    """The capture posting every iteration books: 100.00 EUR, a 2.90 PSP fee, three sellers."""
    from app.domain import ledger as rules

    return rules.capture("sandbox", "EUR", sum(SHARES), 290, dict(zip(sellers, SHARES)))


def post_all(sellers: list[int], intents: list[str]) -> int:
    """The subject: one unit_of_work and one ledger.post per intent; how many were new."""
    from app.database import unit_of_work
    from app.domain import ledger as rules
    from app.services.money import ledger

    new = 0
    for intent in intents:
        with unit_of_work():
            posting = rules.capture("sandbox", "EUR", sum(SHARES), 290,
                                    dict(zip(sellers, SHARES)))
            new += ledger.post(posting, intent)
    return new


def insert_raw(sellers: list[int], intents: list[str]) -> None:
    """The baseline: the same transaction row and legs as Core INSERTs, one commit each."""
    from app.extensions import db
    from app.models.ledger import LedgerEntry, LedgerTransaction

    txn_table, entry_table = LedgerTransaction.__table__, LedgerEntry.__table__
    legs = [(leg.account.code, leg.account.kind.value, leg.account.owner, leg.amount)
            for leg in postings(sellers).legs]
    for intent in intents:
        result = db.session.execute(txn_table.insert().values(
            intent=intent, event="capture", currency="EUR"))
        txn_id = result.inserted_primary_key[0]
        db.session.execute(entry_table.insert(), [
            {"transaction_id": txn_id, "account": account, "kind": kind, "owner": owner,
             "currency": "EUR", "amount": amount} for account, kind, owner, amount in legs])
        db.session.commit()


def run(app, count: int, rounds: int) -> Result:
    """Measure both sides on `count` postings per round, then a replay of the subject's."""
    from bench.stack import make_users

    sellers = list(make_users({f"seller{i}": "seller" for i in range(len(SHARES))}).values())
    batches = {side: [[f"capture:bench:{side}:{r}:{i}" for i in range(count)]
                      for r in range(rounds + 1)] for side in ("subject", "baseline")}
    posted = [intent for batch in batches["subject"] for intent in batch]
    post_all(sellers, batches["subject"].pop())  # warm-up
    insert_raw(sellers, batches["baseline"].pop())
    subject, baseline = best_rates(lambda _: _expect_new(sellers, batches["subject"].pop()),
                                   lambda _: insert_raw(sellers, batches["baseline"].pop()),
                                   count, rounds)
    replay = rate(lambda _: _expect_none(sellers, posted[:count]), count)
    _check_balanced()
    return Result("ledger: post(capture) per unit_of_work vs raw INSERTs per commit",
                  "postings/s", subject, baseline, TARGET,
                  note=f"{count} postings × best of {rounds} rounds, {len(SHARES) + 2} legs each; "
                       f"replayed intents (post nothing): {replay:,.0f}/s")


def _expect_new(sellers: list[int], intents: list[str]) -> None:
    if post_all(sellers, intents) != len(intents):
        raise RuntimeError("a fresh intent was not posted")


def _expect_none(sellers: list[int], intents: list[str]) -> None:
    if post_all(sellers, intents) != 0:
        raise RuntimeError("a replayed intent was posted twice")


def _check_balanced() -> None:
    # Both sides wrote balanced transactions: every transaction's legs sum to zero.
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models.ledger import LedgerEntry

    unbalanced = db.session.execute(
        select(LedgerEntry.transaction_id).group_by(LedgerEntry.transaction_id)
        .having(func.sum(LedgerEntry.amount) != 0)).first()
    if unbalanced:
        raise RuntimeError(f"transaction {unbalanced[0]} does not balance")
