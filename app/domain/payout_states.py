"""A payout to a seller's bank account."""
from __future__ import annotations

from enum import Enum

from app.domain.transitions import check


class PayoutStatus(str, Enum):
    """Where a payout stands."""

    PENDING = "pending"        # booked in our ledger; the PSP has not accepted it yet
    IN_TRANSIT = "in_transit"  # the PSP accepted it; the bank has not confirmed
    PAID = "paid"
    FAILED = "failed"          # the money went back to the seller's available balance
    RETURNED = "returned"      # paid, then sent back by the bank: the money is the seller's again

    def __str__(self) -> str:
        return self.value


P = PayoutStatus
TRANSITIONS: dict[PayoutStatus, frozenset[PayoutStatus]] = {
    P.PENDING: frozenset({P.IN_TRANSIT, P.PAID, P.FAILED}),
    P.IN_TRANSIT: frozenset({P.PAID, P.FAILED}),
    # A bank may send a payout back days after confirming it (closed account, wrong holder).
    P.PAID: frozenset({P.RETURNED}),
    P.FAILED: frozenset(),
    P.RETURNED: frozenset(),
}


def transition(current: PayoutStatus, target: PayoutStatus) -> PayoutStatus:
    """Return target if allowed, else raise ForbiddenMove naming both statuses."""
    return check("payout", TRANSITIONS, current, target)
