"""The order state machine: every allowed and every forbidden move."""
from __future__ import annotations

import itertools

import pytest

from app.domain import order_states
from app.domain.order_states import OrderStatus
from app.domain.payment_states import PaymentStatus
from app.domain.transitions import ForbiddenMove

O = OrderStatus
PAIRS = list(itertools.product(O, O))


def test_table_is_wait_then_paid_or_cancelled_then_follows_the_money():
    assert order_states.TRANSITIONS == {
        O.AWAITING_PAYMENT: {O.PAID, O.CANCELLED},
        O.CANCELLED: {O.PAID},  # an authorization reported after our expiry ran
        # Cancelled from paid: authorized, then every line voided unshipped (per shipment).
        O.PAID: {O.PARTIALLY_REFUNDED, O.REFUNDED, O.DISPUTED, O.SHIPPED, O.DELIVERED,
                 O.COMPLETED, O.CANCELLED},
        O.PARTIALLY_REFUNDED: {O.PARTIALLY_REFUNDED, O.REFUNDED, O.DISPUTED, O.PAID},
        O.REFUNDED: {O.PARTIALLY_REFUNDED, O.PAID},  # a refund the PSP failed late
        O.DISPUTED: {O.PAID, O.PARTIALLY_REFUNDED, O.CHARGED_BACK, O.COMPLETED},
        O.CHARGED_BACK: set(),
        # Fulfilment (issue 17): shipped, then delivered; money news still overrides.
        O.SHIPPED: {O.DELIVERED, O.PARTIALLY_REFUNDED, O.REFUNDED, O.DISPUTED, O.COMPLETED},
        O.DELIVERED: {O.PARTIALLY_REFUNDED, O.REFUNDED, O.DISPUTED, O.COMPLETED},
        # The payment's end; money can still go back to the buyer afterwards.
        O.COMPLETED: {O.PARTIALLY_REFUNDED, O.REFUNDED, O.DISPUTED},
    }


P = PaymentStatus


@pytest.mark.parametrize("before,after,order", [
    (P.CAPTURED, P.PARTIALLY_REFUNDED, O.PARTIALLY_REFUNDED),
    (P.PARTIALLY_REFUNDED, P.REFUNDED, O.REFUNDED),
    (P.CAPTURED, P.REFUNDED, O.REFUNDED),
    (P.CAPTURED, P.DISPUTED, O.DISPUTED),
    (P.DISPUTED, P.REFUNDED, O.CHARGED_BACK),       # the bank decided for the buyer
    (P.DISPUTED, P.CAPTURED, O.PAID),               # won
    (P.DISPUTED, P.COMPLETED, O.COMPLETED),         # won, after the payment's end
    (P.CAPTURED, P.COMPLETED, O.COMPLETED),         # settled, released, paid out
    (P.DISPUTED, P.PARTIALLY_REFUNDED, O.PARTIALLY_REFUNDED),
    (P.REFUNDED, P.CAPTURED, O.PAID),               # a late refund failure
    (P.AUTHORIZED, P.CAPTURED, None),               # checkout's own moves say nothing new
    (P.PARTIALLY_REFUNDED, P.COMPLETED, None),      # settlement keeps the refund visible
])
def test_a_paid_order_follows_its_payment(before, after, order):
    assert order_states.following_payment(before, after) == order


@pytest.mark.parametrize("current,target", PAIRS, ids=[f"{a.value}->{b.value}" for a, b in PAIRS])
def test_every_move_is_allowed_or_refused_by_the_table(current, target):
    if target in order_states.TRANSITIONS[current]:
        assert order_states.transition(current, target) is target
    else:
        with pytest.raises(ForbiddenMove, match=f"order cannot move from {current.value} "
                                                f"to {target.value}"):
            order_states.transition(current, target)
