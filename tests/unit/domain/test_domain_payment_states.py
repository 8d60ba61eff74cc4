"""The payment state machine: every allowed and every forbidden move, walked from the table."""
from __future__ import annotations

import itertools

import pytest

from app.domain.payment_states import (
    FINAL,
    PAID,
    PENDING,
    REACHABLE,
    RELEASES_STOCK,
    REVERSALS,
    TRANSITIONS,
    PaymentStatus,
    can_transition,
    is_behind,
    transition,
)
from app.domain.transitions import ForbiddenMove

S = PaymentStatus
ALL_PAIRS = list(itertools.product(PaymentStatus, PaymentStatus))
ALLOWED = [(c, t) for c, t in ALL_PAIRS if t in TRANSITIONS[c]]
FORBIDDEN = [(c, t) for c, t in ALL_PAIRS if t not in TRANSITIONS[c]]


def _id(pair) -> str:
    return f"{pair[0].value}->{pair[1].value}"


def test_table_covers_every_status():
    assert set(TRANSITIONS) == set(PaymentStatus)
    assert all(set(targets) <= set(PaymentStatus) for targets in TRANSITIONS.values())
    assert len(ALLOWED) + len(FORBIDDEN) == len(PaymentStatus) ** 2
    assert ALLOWED and FORBIDDEN


@pytest.mark.parametrize("pair", ALLOWED, ids=[_id(p) for p in ALLOWED])
def test_allowed_transition_returns_target(pair):
    current, target = pair
    assert can_transition(current, target)
    assert transition(current, target) is target


@pytest.mark.parametrize("pair", FORBIDDEN, ids=[_id(p) for p in FORBIDDEN])
def test_forbidden_transition_raises_naming_both_statuses(pair):
    current, target = pair
    assert not can_transition(current, target)
    with pytest.raises(ForbiddenMove) as caught:
        transition(current, target)
    assert caught.value.current is current and caught.value.target is target
    message = str(caught.value)
    assert current.value in message and target.value in message
    assert message == f"payment cannot move from {current.value} to {target.value}"


def test_final_statuses_are_exactly_those_without_exits_but_reversals():
    assert FINAL == {S.FAILED, S.CANCELLED, S.EXPIRED, S.REFUNDED}
    for status in FINAL:
        assert all((status, target) in REVERSALS
                   for target in PaymentStatus if can_transition(status, target))


def test_a_late_refund_failure_may_undo_a_refund_but_is_never_progress():
    assert REVERSALS == {(S.REFUNDED, S.PARTIALLY_REFUNDED), (S.REFUNDED, S.CAPTURED),
                         (S.PARTIALLY_REFUNDED, S.CAPTURED)}
    for current, target in REVERSALS:
        assert can_transition(current, target)
    # Not followed when deciding whether a report is stale: a refund is still news.
    assert REACHABLE[S.REFUNDED] == frozenset()
    assert not is_behind(S.CAPTURED, S.REFUNDED)


@pytest.mark.parametrize(("current", "target"), [
    (S.CAPTURED, S.AUTHORIZED), (S.REFUNDED, S.AUTHORIZED), (S.CANCELLED, S.PROCESSING),
    (S.INITIATED, S.CAPTURED), (S.AUTHORIZED, S.DECLINED), (S.UNKNOWN, S.COMPLETED),
    (S.COMPLETED, S.CAPTURED), (S.FAILED, S.FAILED),
])
def test_money_never_moves_backwards_or_skips_the_psp(current, target):
    with pytest.raises(ForbiddenMove):
        transition(current, target)


def test_another_card_can_be_tried_after_a_decline():
    assert can_transition(S.DECLINED, S.AUTHORIZING)
    assert can_transition(S.DECLINED, S.DECLINED)
    assert can_transition(S.DECLINED, S.AUTHORIZED)


def test_status_groups_do_not_overlap():
    assert not PAID & PENDING
    assert not PAID & RELEASES_STOCK
    assert not PENDING & FINAL
    assert RELEASES_STOCK <= FINAL


@pytest.mark.parametrize(("current", "reported", "behind"), [
    (S.CAPTURED, S.AUTHORIZED, True),     # a late authorized event after capture
    (S.CAPTURED, S.PROCESSING, True),
    (S.AUTHORIZED, S.AUTHORIZED, True),   # the same report again
    (S.COMPLETED, S.CAPTURED, True),
    (S.PROCESSING, S.AUTHORIZED, False),  # news: the payment moved on
    (S.AUTHORIZED, S.CAPTURED, False),
    (S.INITIATED, S.PROCESSING, False),
    (S.CAPTURED, S.REFUNDED, False),
])
def test_is_behind(current, reported, behind):
    assert is_behind(current, reported) is behind


@pytest.mark.parametrize("status", list(PaymentStatus), ids=lambda s: s.value)
def test_every_status_is_behind_itself(status):
    assert is_behind(status, status)


def test_status_prints_as_its_value():
    assert str(S.PARTIALLY_REFUNDED) == "partially_refunded"
    assert S("captured") is S.CAPTURED


def test_a_capture_reported_after_we_gave_up_is_not_stale():
    """Money taken on a cancelled, expired or failed payment must reach a person."""
    for given_up in (S.CANCELLED, S.EXPIRED, S.FAILED):
        assert not is_behind(given_up, S.CAPTURED)
    assert not is_behind(S.FAILED, S.AUTHORIZED)
    # A void (or an authorization running out) does pass through AUTHORIZED: that one is stale.
    assert is_behind(S.CANCELLED, S.AUTHORIZED) and is_behind(S.EXPIRED, S.AUTHORIZED)


def test_late_reports_on_the_way_here_are_stale():
    assert is_behind(S.CAPTURED, S.AUTHORIZED)
    assert is_behind(S.CAPTURED, S.PROCESSING)
    assert is_behind(S.AUTHORIZED, S.DECLINED)      # declined, then another card worked
    assert is_behind(S.DECLINED, S.REQUIRES_ACTION)  # the 3DS challenge failed
    assert not is_behind(S.CAPTURED, S.EXPIRED)
