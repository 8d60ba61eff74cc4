"""Escrow of one order line: held after capture until released to the seller.

A support hold stops every automatic release until support lets it go (back to HELD) or releases
it. Claims and refunds (a later issue) add their own states here.
"""
from __future__ import annotations

from enum import Enum

from app.domain.transitions import check


class EscrowStatus(str, Enum):
    """Where a line's captured money stands."""

    HELD = "held"
    ON_HOLD = "on_hold"      # support stopped automatic release
    RELEASED = "released"    # the seller's share is in their available balance

    def __str__(self) -> str:
        return self.value


E = EscrowStatus
TRANSITIONS: dict[EscrowStatus, frozenset[EscrowStatus]] = {
    E.HELD: frozenset({E.ON_HOLD, E.RELEASED}),
    E.ON_HOLD: frozenset({E.HELD, E.RELEASED}),
    E.RELEASED: frozenset(),
}


def transition(current: EscrowStatus, target: EscrowStatus) -> EscrowStatus:
    """Return target if allowed, else raise ForbiddenMove naming both statuses."""
    return check("escrow", TRANSITIONS, current, target)
