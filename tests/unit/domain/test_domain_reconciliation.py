"""Reconciliation's domain: every kind of difference from the two sides of one PSP object, the
difference's transitions, COMPLETED's conditions and the reconciliation posting rules."""
from __future__ import annotations

import itertools

import pytest

from app.domain import ledger as rules
from app.domain.ledger import AccountKind, UnbalancedPosting
from app.domain.reconciliation import (
    TRANSITIONS,
    DifferenceKind,
    DifferenceStatus,
    LedgerSide,
    PaymentEnd,
    PspSide,
    classify,
    is_complete,
    transition,
)
from app.domain.transitions import ForbiddenMove

K = DifferenceKind
EUR = frozenset({"EUR"})


def psp(gross=10_000, fee=320, count=1, currencies=EUR):
    return PspSide(count, gross, fee, gross - fee, currencies)


def ours(net=9_680, fee=320, currencies=EUR):
    return LedgerSide(net, fee, currencies)


@pytest.mark.parametrize("type_, theirs, mine, known, later, expected", [
    ("charge", psp(), ours(), True, False, None),
    ("charge", psp(fee=400), ours(), True, False, K.FEE_MISMATCH),
    ("charge", psp(gross=9_999), ours(), True, False, K.AMOUNT_MISMATCH),
    ("charge", psp(currencies=frozenset({"USD"})), ours(), True, False, K.CURRENCY_MISMATCH),
    ("charge", psp(count=2), ours(), True, False, K.DUPLICATED),
    ("charge", None, ours(), True, False, K.IN_TRANSIT),
    ("charge", None, ours(), True, True, K.MISSING_PSP),
    ("refund", PspSide(1, -500, 0, -500, EUR), None, True, False, K.MISSING_OURS),
    ("refund", PspSide(1, -500, 0, -500, EUR), None, False, False, K.UNKNOWN_OBJECT),
    ("adjustment", PspSide(1, -250, 0, -250, EUR), None, True, False, K.UNKNOWN_OBJECT),
    ("dispute", PspSide(1, -4_000, 1_500, -5_500, EUR), LedgerSide(-5_500, 0, EUR), True,
     False, None),  # the dispute fee is part of what left clearing
    ("dispute", PspSide(1, -4_000, 1_500, -5_500, EUR), LedgerSide(-4_000, 0, EUR), True,
     False, K.AMOUNT_MISMATCH),
    ("payout", PspSide(1, -2_160, 0, -2_160, EUR), LedgerSide(-2_160, 0, EUR), True, True,
     None),
])
def test_each_pair_of_sides_is_named(type_, theirs, mine, known, later, expected):
    assert classify(type_, theirs, mine, known=known, report_after_seen=later) == expected


def test_nothing_on_either_side_is_no_difference():
    assert classify("charge", None, None, known=True, report_after_seen=True) is None


PAIRS = list(itertools.product(DifferenceStatus, DifferenceStatus))


@pytest.mark.parametrize("current, target", PAIRS, ids=[f"{a.value}->{b.value}" for a, b in PAIRS])
def test_a_difference_moves_only_from_open(current, target):
    if target in TRANSITIONS[current]:
        assert transition(current, target) == target
    else:
        with pytest.raises(ForbiddenMove):
            transition(current, target)
    assert (target in TRANSITIONS[current]) == (
        current == DifferenceStatus.OPEN and target != DifferenceStatus.OPEN)


DONE = PaymentEnd(captured=True, settled=True, lines_open=0, sellers_unpaid=0,
                  open_differences=0)


@pytest.mark.parametrize("change", [
    {"captured": False}, {"settled": False}, {"lines_open": 1}, {"sellers_unpaid": 1},
    {"open_differences": 1}])
def test_completed_needs_every_condition(change):
    from dataclasses import replace

    assert is_complete(DONE)
    assert not is_complete(replace(DONE, **change))


def legs(posting):
    return {leg.account.code: leg.amount for leg in posting.legs}


def test_settlement_moves_a_lines_net_from_clearing_to_the_psp_balance():
    assert legs(rules.settled("sandbox", "EUR", 9_680)) == {
        "psp_balance:sandbox": 9_680, "psp_clearing:sandbox": -9_680}
    assert legs(rules.settled("sandbox", "EUR", -500)) == {
        "psp_balance:sandbox": -500, "psp_clearing:sandbox": 500}
    with pytest.raises(UnbalancedPosting):
        rules.settled("sandbox", "EUR", 0)  # nothing moves: refused, not an empty posting
    assert rules.normal_balance(AccountKind.PSP_BALANCE, 100) == 100  # debit-normal


def test_fee_corrections_and_adjustments_go_through_psp_fees():
    assert legs(rules.psp_fee_corrected("stripe", "EUR", 45)) == {
        "psp_fees": 45, "psp_clearing:stripe": -45}
    assert legs(rules.psp_adjustment("sandbox", "EUR", -250)) == {
        "psp_clearing:sandbox": -250, "psp_fees": 250}
