"""Running balances (ledger_balances): every posting, one at a time or in a batch, adds its
legs in its own transaction; a rolled-back posting adds nothing; a balance is that one row,
and the invariant catches a running balance that drifted from its legs."""
from __future__ import annotations

import pytest

from app.database import unit_of_work
from app.domain.ledger import AccountKind
from app.extensions import db
from app.models.ledger import LedgerBalance
from app.services.money import ledger, ledger_checks
from tests.services.money.test_svc_ledger_batch import fee_adjustment


def test_single_and_batched_postings_keep_the_running_balance(app):
    with unit_of_work():
        ledger.post(fee_adjustment(250), "adjust:one")
        ledger.post(fee_adjustment(250), "adjust:one")  # the same intent: posted once
    with unit_of_work():
        ledger.post_many([ledger.Intent(fee_adjustment(100 + n), f"adjust:{n}")
                          for n in range(3)])
    with pytest.raises(RuntimeError), unit_of_work():
        ledger.post(fee_adjustment(10_000), "adjust:rolled-back")
        raise RuntimeError("the transaction fails after posting")
    assert ledger.balance(AccountKind.PSP_CLEARING, "sandbox", "EUR") == 250 + 100 + 101 + 102
    assert ledger.balance(AccountKind.PSP_FEES, "", "EUR") == -553  # credited: a debit account
    assert ledger.balance(AccountKind.PSP_CLEARING, "sandbox", "USD") == 0
    assert ledger_checks.balances_match_legs() == []


def test_the_invariant_names_a_running_balance_that_drifted(app):
    with unit_of_work():
        ledger.post(fee_adjustment(250), "adjust:one")
    row = db.session.get(LedgerBalance, ("psp_clearing:sandbox", "EUR"))
    row.balance += 1
    db.session.commit()
    assert ledger_checks.balances_match_legs() == [
        "account psp_clearing:sandbox in EUR: running balance 251, legs sum to 250"]
    row.balance -= 1  # the suite's own check after the test must find the books sound
    db.session.commit()
