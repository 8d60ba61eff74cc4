"""A clawback's transfer reversal: planned with its idempotency key, then answered once.

The row is PENDING from the moment it is committed (before Stripe is asked). Stripe's answer
settles it for good: SUCCEEDED books the reversal in the ledger, FAILED leaves the seller's
balance negative for future sales to net out. Nothing moves a settled reversal again.
"""
from __future__ import annotations

from enum import Enum

from app.domain.transitions import check


class ReversalStatus(str, Enum):
    """Where a transfer reversal stands."""

    PENDING = "pending"        # committed with its key; Stripe has not answered yet
    SUCCEEDED = "succeeded"    # Stripe took the money back from the connected account
    FAILED = "failed"          # Stripe refused: nothing moved

    def __str__(self) -> str:
        return self.value


V = ReversalStatus
TRANSITIONS: dict[ReversalStatus, frozenset[ReversalStatus]] = {
    V.PENDING: frozenset({V.SUCCEEDED, V.FAILED}),
    V.SUCCEEDED: frozenset(),
    V.FAILED: frozenset(),
}


def transition(current: ReversalStatus, target: ReversalStatus) -> ReversalStatus:
    """Return target if allowed, else raise ForbiddenMove naming both statuses."""
    return check("transfer reversal", TRANSITIONS, current, target)
