"""A transition table checker shared by every state machine.

Payments, escrow holds, payouts, refunds, dispute claims and chargebacks, transfer reversals:
each domain module keeps its table as data and its `transition()` calls `check`, so every
forbidden move raises the same named error, whichever machine refused it.
"""
from __future__ import annotations

from enum import Enum
from typing import TypeVar

E = TypeVar("E", bound=Enum)


class ForbiddenMove(Exception):
    """A status change that the machine's table does not allow; names both ends."""

    def __init__(self, machine: str, current: Enum, target: Enum):
        self.machine, self.current, self.target = machine, current, target
        super().__init__(f"{machine} cannot move from {current.value} to {target.value}")


def check(machine: str, table: dict[E, frozenset[E]], current: E, target: E) -> E:
    """Return target when table allows current → target, else raise ForbiddenMove."""
    if target not in table[current]:
        raise ForbiddenMove(machine, current, target)
    return target
