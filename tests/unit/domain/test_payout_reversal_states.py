"""The payout and transfer-reversal state machines: every allowed and every forbidden move."""
from __future__ import annotations

import itertools

import pytest

from app.domain import payout_states, reversal_states
from app.domain.payout_states import PayoutStatus
from app.domain.reversal_states import ReversalStatus
from app.domain.transitions import ForbiddenMove

P, V = PayoutStatus, ReversalStatus
MACHINES = {"payout": (PayoutStatus, payout_states), "transfer reversal": (ReversalStatus,
                                                                            reversal_states)}
CASES = [(name, current, target) for name, (enum, _) in MACHINES.items()
         for current, target in itertools.product(enum, enum)]


def _id(case) -> str:
    return f"{case[0]}:{case[1].value}->{case[2].value}"


def test_payout_table_is_exactly_the_payout_life():
    assert payout_states.TRANSITIONS == {
        P.PENDING: {P.IN_TRANSIT, P.PAID, P.FAILED},  # Stripe transfers are paid at once
        P.IN_TRANSIT: {P.PAID, P.FAILED},
        P.PAID: {P.RETURNED},  # the bank sent it back after confirming (issue 11 §1.8)
        P.FAILED: set(),
        P.RETURNED: set(),
    }


def test_reversal_table_is_one_answer_then_final():
    assert reversal_states.TRANSITIONS == {
        V.PENDING: {V.SUCCEEDED, V.FAILED},
        V.SUCCEEDED: set(),
        V.FAILED: set(),
    }


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_every_move_is_allowed_or_refused_by_the_table(case):
    name, current, target = case
    module = MACHINES[name][1]
    if target in module.TRANSITIONS[current]:
        assert module.transition(current, target) is target
    else:
        with pytest.raises(ForbiddenMove) as caught:
            module.transition(current, target)
        assert (caught.value.current, caught.value.target) == (current, target)
        assert str(caught.value) == f"{name} cannot move from {current.value} to {target.value}"
