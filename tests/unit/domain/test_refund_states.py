"""The refund and escrow state machines: every allowed and every forbidden move."""
from __future__ import annotations

import itertools

import pytest

from app.domain import escrow_states, refund_states
from app.domain.escrow_states import EscrowStatus
from app.domain.refund_states import ACTIVE, TRANSITIONS, RefundStatus
from app.domain.transitions import ForbiddenMove

R, E = RefundStatus, EscrowStatus
REFUND_PAIRS = list(itertools.product(RefundStatus, RefundStatus))
ESCROW_PAIRS = list(itertools.product(EscrowStatus, EscrowStatus))


def _id(pair) -> str:
    return f"{pair[0].value}->{pair[1].value}"


def test_refund_table_is_exactly_the_refund_life():
    assert TRANSITIONS == {
        R.PENDING: {R.SUCCEEDED, R.FAILED},
        R.SUCCEEDED: {R.REVERSED},   # a late failure only
        R.FAILED: set(),
        R.REVERSED: set(),
    }
    # Only refunds whose money is promised count against what can still be refunded.
    assert ACTIVE == {R.PENDING, R.SUCCEEDED}


@pytest.mark.parametrize("pair", REFUND_PAIRS, ids=[_id(p) for p in REFUND_PAIRS])
def test_every_refund_move_is_allowed_or_refused_by_the_table(pair):
    current, target = pair
    if target in TRANSITIONS[current]:
        assert refund_states.transition(current, target) is target
    else:
        with pytest.raises(ForbiddenMove) as caught:
            refund_states.transition(current, target)
        assert str(caught.value) == f"refund cannot move from {current.value} to {target.value}"


def test_escrow_table_with_refunds():
    assert escrow_states.TRANSITIONS == {
        E.HELD: {E.ON_HOLD, E.RELEASED, E.REFUNDED},
        E.ON_HOLD: {E.HELD, E.RELEASED, E.REFUNDED},
        E.RELEASED: {E.REFUNDED},
        # A refund failed late: back to the seller if released, else frozen for support.
        E.REFUNDED: {E.ON_HOLD, E.RELEASED},
    }


@pytest.mark.parametrize("pair", ESCROW_PAIRS, ids=[_id(p) for p in ESCROW_PAIRS])
def test_every_escrow_move_is_allowed_or_refused_by_the_table(pair):
    current, target = pair
    if target in escrow_states.TRANSITIONS[current]:
        assert escrow_states.transition(current, target) is target
    else:
        with pytest.raises(ForbiddenMove, match=f"escrow cannot move from {current.value} "
                                                f"to {target.value}"):
            escrow_states.transition(current, target)
