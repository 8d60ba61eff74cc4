"""Escrow of one order line: held after capture until released to the seller.

A support hold stops every automatic release until support lets it go (back to HELD) or releases
it. A line whose money all went back to the buyer (refunds, a chargeback the seller lost) is
REFUNDED, whether it was held or already released. Only a refund the PSP fails late leaves
REFUNDED again: a line refunded while held goes ON_HOLD (support decides what happens to the
money that came back), a line refunded after release goes back to RELEASED.
"""
from __future__ import annotations

from enum import Enum

from app.domain.transitions import check


class EscrowStatus(str, Enum):
    """Where a line's captured money stands."""

    HELD = "held"
    ON_HOLD = "on_hold"      # support stopped automatic release
    RELEASED = "released"    # the seller's share is in their available balance
    REFUNDED = "refunded"    # all of the line's money went back to the buyer

    def __str__(self) -> str:
        return self.value


E = EscrowStatus
TRANSITIONS: dict[EscrowStatus, frozenset[EscrowStatus]] = {
    E.HELD: frozenset({E.ON_HOLD, E.RELEASED, E.REFUNDED}),
    E.ON_HOLD: frozenset({E.HELD, E.RELEASED, E.REFUNDED}),
    E.RELEASED: frozenset({E.REFUNDED}),
    E.REFUNDED: frozenset({E.ON_HOLD, E.RELEASED}),  # a late refund failure only
}


def transition(current: EscrowStatus, target: EscrowStatus) -> EscrowStatus:
    """Return target if allowed, else raise ForbiddenMove naming both statuses."""
    return check("escrow", TRANSITIONS, current, target)
