"""The buyer-facing state of an order; the payment carries the detail.

An order waits for payment, then is paid or cancelled (the payment failed, expired or was
cancelled, and its stock went back). A cancelled order can still become paid: a PSP may report
an authorization after our expiry ran (a late webhook), and money taken is never ignored. A paid
order stays paid; refunds and disputes live on the payment and its lines.
"""
from __future__ import annotations

from enum import Enum

from app.domain.transitions import check


class OrderStatus(str, Enum):
    """Where an order stands for the buyer."""

    AWAITING_PAYMENT = "awaiting_payment"
    PAID = "paid"
    CANCELLED = "cancelled"   # payment failed, expired or was cancelled; stock released

    def __str__(self) -> str:
        return self.value


O = OrderStatus
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    O.AWAITING_PAYMENT: frozenset({O.PAID, O.CANCELLED}),
    O.CANCELLED: frozenset({O.PAID}),
    O.PAID: frozenset(),
}


def transition(current: OrderStatus, target: OrderStatus) -> OrderStatus:
    """Return target if allowed, else raise ForbiddenMove naming both statuses."""
    return check("order", TRANSITIONS, current, target)
