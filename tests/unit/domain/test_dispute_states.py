"""Both dispute machines — buyer claims and PSP chargebacks — walked pair by pair from their
tables: every allowed move returns its target, every forbidden one names both ends."""
from __future__ import annotations

import itertools

import pytest

from app.domain.dispute_states import (
    CHARGEBACK_OPEN,
    CHARGEBACK_TRANSITIONS,
    CLAIM_OPEN,
    CLAIM_TRANSITIONS,
    ChargebackStatus,
    ClaimStatus,
    chargeback_transition,
    claim_transition,
)
from app.domain.transitions import ForbiddenMove

C, B = ClaimStatus, ChargebackStatus


def _pairs(enum, table, allowed: bool):
    return [(c, t) for c, t in itertools.product(enum, enum) if (t in table[c]) == allowed]


MACHINES = {
    "claim": (ClaimStatus, CLAIM_TRANSITIONS, claim_transition),
    "chargeback": (ChargebackStatus, CHARGEBACK_TRANSITIONS, chargeback_transition),
}
ALLOWED = [(name, c, t) for name, (enum, table, _) in MACHINES.items()
           for c, t in _pairs(enum, table, True)]
FORBIDDEN = [(name, c, t) for name, (enum, table, _) in MACHINES.items()
             for c, t in _pairs(enum, table, False)]


def _id(case) -> str:
    return f"{case[0]}:{case[1].value}->{case[2].value}"


@pytest.mark.parametrize("name", MACHINES)
def test_table_covers_every_status(name):
    enum, table, _ = MACHINES[name]
    assert set(table) == set(enum)
    assert all(set(targets) <= set(enum) for targets in table.values())


def test_every_pair_is_either_allowed_or_forbidden():
    assert len(ALLOWED) + len(FORBIDDEN) == len(ClaimStatus) ** 2 + len(ChargebackStatus) ** 2
    # The moves the product depends on, spelled out so a table edit that drops one fails here.
    assert {(c, t) for n, c, t in ALLOWED if n == "claim"} == {
        (C.OPEN, C.CONTESTED), (C.OPEN, C.ESCALATED), (C.OPEN, C.RESOLVED), (C.OPEN, C.WITHDRAWN),
        (C.CONTESTED, C.ESCALATED), (C.CONTESTED, C.RESOLVED), (C.CONTESTED, C.WITHDRAWN),
        (C.ESCALATED, C.RESOLVED), (C.ESCALATED, C.WITHDRAWN)}
    assert {(c, t) for n, c, t in ALLOWED if n == "chargeback"} == {
        (B.NEEDS_RESPONSE, B.UNDER_REVIEW), (B.NEEDS_RESPONSE, B.WON), (B.NEEDS_RESPONSE, B.LOST),
        (B.UNDER_REVIEW, B.WON), (B.UNDER_REVIEW, B.LOST)}


@pytest.mark.parametrize("case", ALLOWED, ids=[_id(c) for c in ALLOWED])
def test_allowed_move_returns_target(case):
    name, current, target = case
    assert MACHINES[name][2](current, target) is target


@pytest.mark.parametrize("case", FORBIDDEN, ids=[_id(c) for c in FORBIDDEN])
def test_forbidden_move_raises_naming_both_statuses(case):
    name, current, target = case
    with pytest.raises(ForbiddenMove) as caught:
        MACHINES[name][2](current, target)
    assert (caught.value.current, caught.value.target) == (current, target)
    assert str(caught.value) == f"{name} cannot move from {current.value} to {target.value}"


def test_final_statuses_allow_nothing_and_open_ones_something():
    assert CLAIM_OPEN == {C.OPEN, C.CONTESTED, C.ESCALATED}
    assert CHARGEBACK_OPEN == {B.NEEDS_RESPONSE, B.UNDER_REVIEW}
    for status in set(ClaimStatus) - CLAIM_OPEN:
        assert not CLAIM_TRANSITIONS[status]
    for status in set(ChargebackStatus) - CHARGEBACK_OPEN:
        assert not CHARGEBACK_TRANSITIONS[status]


def test_a_chargeback_never_returns_to_needs_response():
    # The PSP only moves a dispute forward; a stale "needs_response" report must be refused.
    assert all(B.NEEDS_RESPONSE not in targets for targets in CHARGEBACK_TRANSITIONS.values())


def test_no_claim_move_reopens_a_case():
    assert all(C.OPEN not in targets for targets in CLAIM_TRANSITIONS.values())
