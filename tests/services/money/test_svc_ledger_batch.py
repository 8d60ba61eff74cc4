"""ledger.post_many: many postings in one transaction, exactly once per intent, all balanced."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.database import unit_of_work
from app.domain.ledger import Account, AccountKind, Leg, Posting, UnbalancedPosting
from app.extensions import db
from app.models.ledger import LedgerEntry, LedgerTransaction
from app.services.money import ledger


def fee_adjustment(amount: int) -> Posting:
    """A posting that touches no seller, escrow or payment (so no other invariant is involved)."""
    return Posting("fee_adjustment", "EUR", (Leg(Account(AccountKind.PSP_CLEARING, "sandbox"),
                                                 amount),
                                             Leg(Account(AccountKind.PSP_FEES), -amount)))


def counts() -> tuple[int, int]:
    db.session.rollback()
    return (db.session.scalar(select(func.count()).select_from(LedgerTransaction)),
            db.session.scalar(select(func.count()).select_from(LedgerEntry)))


def test_a_batch_writes_every_posting_with_its_own_legs(app):
    batch = [ledger.Intent(fee_adjustment(100 + n), f"adjust:{n}") for n in range(250)]
    with unit_of_work():
        assert ledger.post_many(batch) == 250
    assert counts() == (250, 500)
    legs = db.session.execute(
        select(LedgerTransaction.intent, func.sum(LedgerEntry.amount), func.max(LedgerEntry.amount))
        .join(LedgerEntry).group_by(LedgerTransaction.intent)).all()
    # Each transaction got its own posting's legs (not a neighbour's), and each balances.
    assert {intent: (total, top) for intent, total, top in legs} == {
        f"adjust:{n}": (0, 100 + n) for n in range(250)}


def test_a_replayed_batch_posts_nothing_and_a_mixed_one_only_the_new(app):
    with unit_of_work():
        ledger.post_many([ledger.Intent(fee_adjustment(5), f"adjust:{n}") for n in range(3)])
    with unit_of_work():
        assert ledger.post_many([ledger.Intent(fee_adjustment(5), f"adjust:{n}")
                                 for n in range(3)]) == 0
    with unit_of_work():
        assert ledger.post_many([ledger.Intent(fee_adjustment(5), f"adjust:{n}")
                                 for n in range(2, 5)]) == 2
    assert counts() == (5, 10)


def test_an_intent_twice_in_one_batch_is_posted_once(app):
    with unit_of_work():
        assert ledger.post_many([ledger.Intent(fee_adjustment(7), "adjust:same")] * 3) == 1
    assert counts() == (1, 2)


def test_a_batch_that_fails_writes_nothing(app):
    with pytest.raises(RuntimeError), unit_of_work():
        ledger.post_many([ledger.Intent(fee_adjustment(9), f"adjust:{n}") for n in range(4)])
        raise RuntimeError("the job died before its commit")
    assert counts() == (0, 0)


def test_an_unbalanced_posting_never_reaches_a_batch():
    with pytest.raises(UnbalancedPosting):
        Posting("broken", "EUR", (Leg(Account(AccountKind.PSP_FEES), 5),))


def test_an_empty_batch_posts_nothing(app):
    with unit_of_work():
        assert ledger.post_many([]) == 0
