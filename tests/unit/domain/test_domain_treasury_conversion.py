"""The treasury's conversion at the orders' frozen rate: exact integers, never more sold than
held, and one balanced posting per currency."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain import cross_currency as rules
from app.domain.fx import FxError, at_frozen, settled_for
from app.domain.ledger import UnbalancedPosting

AMOUNTS = st.integers(min_value=1, max_value=10**9)


def test_the_board_converts_back_at_its_own_rate():
    # 59.00 USD were bought from the buyer for 54.38 EUR at mid: all of it costs exactly that.
    assert at_frozen(5900, 5438, 5900) == 5438
    assert at_frozen(5310, 5438, 5900) == 4894  # 53.10 USD (less the fee): 4894.2 half up
    assert settled_for(5438, 5438, 5900) == 5900


@given(AMOUNTS, AMOUNTS, AMOUNTS)
def test_what_a_sum_buys_never_costs_more_than_it_and_is_the_most_it_buys(sold, paid, settled):
    best = settled_for(sold, paid, settled)
    assert at_frozen(best, paid, settled) <= sold
    assert at_frozen(best + 1, paid, settled) > sold


def test_a_frozen_rate_needs_positive_amounts():
    with pytest.raises(FxError):
        at_frozen(1, 0, 5900)
    with pytest.raises(FxError):
        settled_for(-1, 5438, 5900)


def test_one_balanced_posting_per_currency_through_the_position():
    sold, bought = rules.treasury_conversion("sandbox", "EUR", 4894, "USD", 5310)
    assert (sold.event, sold.currency, bought.currency) == ("treasury_conversion", "EUR", "USD")
    assert {(leg.account.code, leg.amount) for leg in sold.legs} == {
        ("fx_conversion", 4894), ("psp_clearing:sandbox", -4894)}
    assert {(leg.account.code, leg.amount) for leg in bought.legs} == {
        ("psp_clearing:sandbox", 5310), ("fx_conversion", -5310)}
    for bad in [("EUR", 0, "USD", 5), ("EUR", 5, "EUR", 5), ("EUR", 5, "USD", -1)]:
        with pytest.raises(UnbalancedPosting):
            rules.treasury_conversion("sandbox", *bad)
