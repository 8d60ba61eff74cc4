"""Posting rules: every posting balances, and the constructor refuses one that doesn't."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain import ledger as rules
from app.domain.ledger import Account, AccountKind, Leg, Posting, UnbalancedPosting


def total(posting: Posting) -> int:
    return sum(leg.amount for leg in posting.legs)


@given(shares=st.dictionaries(st.integers(1, 50), st.integers(1, 10**9), min_size=1, max_size=6),
       data=st.data())
def test_capture_balances_and_credits_each_sellers_escrow(shares, data):
    captured = sum(shares.values())
    fee = data.draw(st.integers(0, captured))
    posting = rules.capture("sandbox", "EUR", captured, fee, shares)
    assert total(posting) == 0
    escrow = {leg.account.owner: -leg.amount for leg in posting.legs
              if leg.account.kind == AccountKind.ESCROW}
    assert escrow == {str(k): v for k, v in shares.items()}


@given(gross=st.integers(1, 10**9), data=st.data())
def test_release_moves_escrow_to_available_and_fee(gross, data):
    fee = data.draw(st.integers(0, gross))
    posting = rules.release(7, "EUR", gross, fee)
    assert total(posting) == 0
    by_kind = {leg.account.kind: leg.amount for leg in posting.legs}
    assert by_kind[AccountKind.ESCROW] == gross
    assert -by_kind.get(AccountKind.SELLER_AVAILABLE, 0) == gross - fee


@pytest.mark.parametrize("make", [
    lambda: rules.payout_sent(3, "USD", 500),
    lambda: rules.payout_paid(3, "sandbox", "USD", 500),
    lambda: rules.payout_failed(3, "USD", 500),
])
def test_payout_postings_balance(make):
    assert total(make()) == 0


def test_unbalanced_or_inexact_postings_are_refused():
    a, b = Account(AccountKind.PSP_FEES), Account(AccountKind.PLATFORM_FEES)
    with pytest.raises(UnbalancedPosting):
        Posting("x", "EUR", (Leg(a, 100), Leg(b, -99)))
    with pytest.raises(UnbalancedPosting):
        Posting("x", "EUR", (Leg(a, 1.5), Leg(b, -1.5)))
    with pytest.raises(UnbalancedPosting):
        rules.capture("sandbox", "EUR", 100, 0, {1: 60, 2: 30})  # shares ≠ captured
    with pytest.raises(UnbalancedPosting):
        rules.release(1, "EUR", 100, 101)  # a fee above the amount


def test_balances_read_on_each_accounts_normal_side():
    assert rules.normal_balance(AccountKind.PSP_CLEARING, 500) == 500
    assert rules.normal_balance(AccountKind.SELLER_AVAILABLE, -500) == 500
