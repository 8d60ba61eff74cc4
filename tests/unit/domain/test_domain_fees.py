"""Fees and splits: exact, never negative, never more than the amount, always summing up."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.fees import FeeRule, choose_rule, platform_fee, split_capture
from app.domain.money import CURRENCY_EXPONENTS

# Amounts scaled to each currency's minor unit: JPY (0), EUR (2), BHD (3).
CURRENCIES = ["JPY", "EUR", "BHD"]
rules = st.builds(FeeRule, bps=st.integers(0, 10_000), fixed=st.integers(0, 5_000))
lines = st.lists(st.integers(1, 10**9), min_size=1, max_size=12)


@given(currency=st.sampled_from(CURRENCIES), totals=lines, data=st.data())
def test_a_capture_split_sums_to_what_was_captured(currency, totals, data):
    scale = 10 ** CURRENCY_EXPONENTS[currency]
    totals = [t * scale // 100 or 1 for t in totals]
    captured = data.draw(st.integers(0, sum(totals)))
    shares = split_capture(captured, totals)
    assert sum(shares) == captured
    assert all(share >= 0 for share in shares)
    # Each line gets its proportional share, give or take one minor unit.
    for share, total in zip(shares, totals):
        assert abs(share * sum(totals) - captured * total) <= sum(totals)


@given(amount=st.integers(0, 10**12), rule=rules)
def test_a_fee_is_never_negative_nor_more_than_the_amount(amount, rule):
    fee = platform_fee(amount, rule)
    assert 0 <= fee <= amount


@given(totals=lines, rule=rules)
def test_seller_shares_plus_fees_equal_the_capture(totals, rule):
    captured = sum(totals)
    shares = split_capture(captured, totals)
    fees = [platform_fee(share, rule) for share in shares]
    nets = [share - fee for share, fee in zip(shares, fees)]
    assert sum(nets) + sum(fees) == captured
    assert all(net >= 0 for net in nets)


def test_fee_rounds_half_up_and_adds_the_fixed_part():
    assert platform_fee(1005, FeeRule(bps=1000)) == 101   # 100.5 → 101
    assert platform_fee(1004, FeeRule(bps=1000)) == 100
    assert platform_fee(2400, FeeRule(bps=800, fixed=30)) == 222
    assert platform_fee(10, FeeRule(bps=800, fixed=30)) == 10  # capped at the amount


def test_category_override_then_seller_rule_then_default():
    default, general, ceramics = FeeRule(1000), FeeRule(800, 30), FeeRule(500)
    seller = {None: general, "ceramics": ceramics}
    assert choose_rule("ceramics", seller, default) is ceramics
    assert choose_rule("textiles", seller, default) is general
    assert choose_rule("ceramics", {}, default) is default


@pytest.mark.parametrize("bad", [dict(bps=-1), dict(bps=10_001), dict(bps=100, fixed=-1)])
def test_fee_rules_refuse_nonsense(bad):
    with pytest.raises(ValueError):
        FeeRule(**bad)


def test_a_split_refuses_a_capture_beyond_the_order():
    with pytest.raises(ValueError):
        split_capture(101, [50, 50])
