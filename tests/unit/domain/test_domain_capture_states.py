"""Per-shipment capture in the domain: the line capture machine, the payment's partially
captured status, the void deadline and which orders are captured line by line."""
from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import pytest

from app.domain.capture_states import (
    AT_CHECKOUT,
    PER_SHIPMENT,
    TRANSITIONS,
    LineCaptureStatus,
    is_final,
    transition,
    uses_parts,
    void_deadline,
)
from app.domain.payment_states import PAID, REACHABLE, PaymentStatus, can_transition, is_behind
from app.domain.transitions import ForbiddenMove

L = LineCaptureStatus
S = PaymentStatus
PAIRS = list(itertools.product(L, L))


def test_table_is_wait_for_shipment_then_captured_or_voided():
    assert TRANSITIONS == {
        L.AWAITING_SHIPMENT: {L.DUE, L.VOIDED},
        L.DUE: {L.CAPTURED, L.VOIDED},
        L.CAPTURED: set(),
        L.VOIDED: set(),
    }


@pytest.mark.parametrize("pair", [p for p in PAIRS if p[1] in TRANSITIONS[p[0]]])
def test_allowed_line_moves_return_the_target(pair):
    assert transition(*pair) == pair[1]


@pytest.mark.parametrize("pair", [p for p in PAIRS if p[1] not in TRANSITIONS[p[0]]])
def test_forbidden_line_moves_name_both_ends(pair):
    with pytest.raises(ForbiddenMove) as raised:
        transition(*pair)
    assert pair[0].value in str(raised.value) and pair[1].value in str(raised.value)


def test_a_captured_line_is_never_voided_and_a_voided_one_never_captured():
    with pytest.raises(ForbiddenMove):
        transition(L.CAPTURED, L.VOIDED)
    with pytest.raises(ForbiddenMove):
        transition(L.VOIDED, L.CAPTURED)
    with pytest.raises(ForbiddenMove):  # nothing is captured before it ships
        transition(L.AWAITING_SHIPMENT, L.CAPTURED)


def test_partially_captured_payment_moves():
    assert can_transition(S.AUTHORIZED, S.PARTIALLY_CAPTURED)
    assert can_transition(S.PARTIALLY_CAPTURED, S.PARTIALLY_CAPTURED)  # another shipment
    assert can_transition(S.PARTIALLY_CAPTURED, S.CAPTURED)            # last one, or void rest
    assert can_transition(S.PARTIALLY_CAPTURED, S.PARTIALLY_REFUNDED)  # a captured line back
    assert not can_transition(S.PARTIALLY_CAPTURED, S.AUTHORIZED)
    assert not can_transition(S.PARTIALLY_CAPTURED, S.CANCELLED)  # money was taken: no void
    assert S.PARTIALLY_CAPTURED in PAID


def test_reports_about_partial_captures_are_stale_once_captured():
    assert is_behind(S.CAPTURED, S.PARTIALLY_CAPTURED)
    assert is_behind(S.PARTIALLY_REFUNDED, S.PARTIALLY_CAPTURED)
    assert not is_behind(S.AUTHORIZED, S.PARTIALLY_CAPTURED)
    assert S.CAPTURED in REACHABLE[S.PARTIALLY_CAPTURED]


AUTHORIZED_AT = datetime(2026, 12, 1, 10, 0)


@pytest.mark.parametrize("void_days, lifetime, expected", [
    (5, 7, timedelta(days=5)),    # the platform's own limit comes first
    (10, 7, timedelta(days=6)),   # never later than a day before the authorization lapses
    (30, 30, timedelta(days=29)),
    (0, 7, timedelta(0)),         # void at once: nothing waits for a shipment
])
def test_void_deadline_is_the_earlier_of_the_platform_and_the_psp(void_days, lifetime,
                                                                  expected):
    assert void_deadline(AUTHORIZED_AT, void_days, lifetime) == AUTHORIZED_AT + expected


def test_only_orders_with_something_to_ship_are_captured_line_by_line():
    assert uses_parts(PER_SHIPMENT, physical_lines=2)
    assert not uses_parts(PER_SHIPMENT, physical_lines=0)  # digital goods: captured at once
    assert not uses_parts(AT_CHECKOUT, physical_lines=2)
    with pytest.raises(ValueError):
        uses_parts("whenever", physical_lines=1)


def test_a_capture_is_final_when_nothing_is_left_open():
    assert is_final(0) and not is_final(1)
