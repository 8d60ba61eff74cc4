"""The treasury funding rules: a top-up into the rail and the collecting PSP's repayment each
move one PSP's clearing only (by what that PSP reports), and together leave the treasury at
zero."""
from __future__ import annotations

import pytest

from app.domain import ledger as rules
from app.domain.ledger import UnbalancedPosting


def legs(posting) -> set[tuple[str, int]]:
    return {(leg.account.code, leg.amount) for leg in posting.legs}


def test_a_top_up_moves_only_the_rails_clearing_out_of_the_treasury():
    posting = rules.treasury_funding("stripe", "EUR", 4320)
    assert (posting.event, posting.currency) == ("treasury_funding", "EUR")
    assert legs(posting) == {("psp_clearing:stripe", 4320), ("treasury", -4320)}


def test_a_sweep_moves_only_the_collecting_psps_clearing_into_the_treasury():
    posting = rules.treasury_sweep("sandbox", "EUR", 4320)
    assert posting.event == "treasury_sweep"
    assert legs(posting) == {("psp_clearing:sandbox", -4320), ("treasury", 4320)}


def test_both_together_leave_the_treasury_at_zero():
    moved = {}
    for posting in (rules.treasury_funding("stripe", "EUR", 4320),
                    rules.treasury_sweep("sandbox", "EUR", 4320)):
        for code, amount in legs(posting):
            moved[code] = moved.get(code, 0) + amount
    assert moved == {"treasury": 0, "psp_clearing:stripe": 4320, "psp_clearing:sandbox": -4320}


@pytest.mark.parametrize("amount", [0, -1])
def test_nothing_or_less_is_refused(amount):
    with pytest.raises(UnbalancedPosting):
        rules.treasury_funding("stripe", "EUR", amount)
    with pytest.raises(UnbalancedPosting):
        rules.treasury_sweep("sandbox", "EUR", amount)
