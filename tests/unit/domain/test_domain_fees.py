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


@st.composite
def bounded_rules(draw):
    """Rules with a minimum and, sometimes, a maximum at or above it."""
    minimum = draw(st.integers(0, 10_000))
    maximum = draw(st.one_of(st.none(), st.integers(minimum, minimum + 100_000)))
    return FeeRule(draw(st.integers(0, 10_000)), draw(st.integers(0, 5_000)), minimum, maximum)
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


@given(amount=st.integers(1, 10**12), rule=bounded_rules())
def test_a_bounded_fee_is_an_integer_within_its_minimum_maximum_and_the_amount(amount, rule):
    fee = platform_fee(amount, rule)
    assert isinstance(fee, int)
    assert fee <= amount
    assert fee >= min(rule.minimum, amount)
    if rule.maximum is not None:
        assert fee <= rule.maximum
    # Below the bounds it is exactly the half-up rounding of bps, plus the fixed part.
    raw = (amount * rule.bps * 2 + 10_000) // 20_000 + rule.fixed
    if rule.minimum <= raw <= (rule.maximum if rule.maximum is not None else raw) and raw <= amount:
        assert fee == raw


@given(amount=st.integers(1, 10**9), rule=bounded_rules())
def test_a_fee_never_falls_when_the_amount_grows(amount, rule):
    assert platform_fee(amount + 1, rule) >= platform_fee(amount, rule)


def test_minimum_and_maximum_clamp_the_fee():
    rule = FeeRule(bps=250, fixed=0, minimum=50, maximum=1_000)
    assert platform_fee(1_000, rule) == 50        # 25 → the minimum
    assert platform_fee(10_000, rule) == 250      # within bounds
    assert platform_fee(100_000, rule) == 1_000   # 2500 → the maximum
    assert platform_fee(30, rule) == 30           # the minimum never exceeds the amount
    assert platform_fee(2_001, FeeRule(bps=250)) == 50   # 50.025 → 50 (half up, to a minor unit)
    assert platform_fee(2_020, FeeRule(bps=250)) == 51   # 50.5 → 51


def test_seller_category_then_seller_then_category_then_default():
    default, general, ceramics = FeeRule(1000), FeeRule(800, 30), FeeRule(500)
    everyone = {"ceramics": FeeRule(700), "textiles": FeeRule(600)}
    seller = {None: general, "ceramics": ceramics}
    assert choose_rule("ceramics", seller, default, everyone) == (ceramics,
                                                                  "seller+category:ceramics")
    assert choose_rule("textiles", seller, default, everyone) == (general, "seller")
    assert choose_rule("ceramics", {}, default, everyone) == (FeeRule(700), "category:ceramics")
    assert choose_rule("books", {}, default, everyone) == (default, "default")


@pytest.mark.parametrize("bad", [dict(bps=-1), dict(bps=10_001), dict(bps=100, fixed=-1),
                                 dict(bps=100, minimum=-1), dict(bps=100, minimum=5, maximum=4)])
def test_fee_rules_refuse_nonsense(bad):
    with pytest.raises(ValueError):
        FeeRule(**bad)


def test_a_split_refuses_a_capture_beyond_the_order():
    with pytest.raises(ValueError):
        split_capture(101, [50, 50])
