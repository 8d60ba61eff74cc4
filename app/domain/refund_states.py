"""A refund's life: requested at the PSP, then settled by its answer or its webhooks.

The row is PENDING from the moment it is committed (before the PSP is asked) until the PSP says
how it ended, so a PENDING refund reserves its amount: two requests at once can never promise
the buyer more than was captured. A refund the PSP reports as failed after it had succeeded is
REVERSED: the money came back and the postings are undone, and support must look at it.
"""
from __future__ import annotations

from enum import Enum

from app.domain.transitions import check


class RefundStatus(str, Enum):
    """Where a refund stands."""

    PENDING = "pending"        # committed with its idempotency key; the PSP has not settled it
    SUCCEEDED = "succeeded"    # the PSP returned the money; posted in the ledger
    FAILED = "failed"          # the PSP did not return the money; nothing was posted
    REVERSED = "reversed"      # succeeded, then failed late: the posting is undone

    def __str__(self) -> str:
        return self.value


R = RefundStatus
TRANSITIONS: dict[RefundStatus, frozenset[RefundStatus]] = {
    R.PENDING: frozenset({R.SUCCEEDED, R.FAILED}),
    R.SUCCEEDED: frozenset({R.REVERSED}),
    R.FAILED: frozenset(),
    R.REVERSED: frozenset(),
}

# Refunds whose amount is promised to the buyer: counted against what is still refundable.
ACTIVE = frozenset({R.PENDING, R.SUCCEEDED})

# Who may ask for a refund.
REQUESTERS = ("seller", "support", "system")


def transition(current: RefundStatus, target: RefundStatus) -> RefundStatus:
    """Return target if allowed, else raise ForbiddenMove naming both statuses."""
    return check("refund", TRANSITIONS, current, target)
