"""The order state machine: every allowed and every forbidden move."""
from __future__ import annotations

import itertools

import pytest

from app.domain import order_states
from app.domain.order_states import OrderStatus
from app.domain.transitions import ForbiddenMove

O = OrderStatus
PAIRS = list(itertools.product(O, O))


def test_table_is_wait_then_paid_or_cancelled_and_a_late_payment_still_counts():
    assert order_states.TRANSITIONS == {
        O.AWAITING_PAYMENT: {O.PAID, O.CANCELLED},
        O.CANCELLED: {O.PAID},  # an authorization reported after our expiry ran
        O.PAID: set(),
    }


@pytest.mark.parametrize("current,target", PAIRS, ids=[f"{a.value}->{b.value}" for a, b in PAIRS])
def test_every_move_is_allowed_or_refused_by_the_table(current, target):
    if target in order_states.TRANSITIONS[current]:
        assert order_states.transition(current, target) is target
    else:
        with pytest.raises(ForbiddenMove, match=f"order cannot move from {current.value} "
                                                f"to {target.value}"):
            order_states.transition(current, target)
