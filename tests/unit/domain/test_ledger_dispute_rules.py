"""Chargeback posting rules: opened, won and lost each balance, and a dispute's postings taken
together leave every account where the outcome says it should be."""
from __future__ import annotations

from collections import defaultdict

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain import ledger as rules
from app.domain.ledger import (
    AccountKind,
    LineShare,
    Posting,
    UnbalancedPosting,
    normal_balance,
)

K = AccountKind


def balances(*postings: Posting) -> dict[str, int]:
    """Account code → balance on its normal side, over all postings (zero balances dropped)."""
    signed: dict[tuple, int] = defaultdict(int)
    for posting in postings:
        assert sum(leg.amount for leg in posting.legs) == 0
        for leg in posting.legs:
            signed[(leg.account.kind, leg.account.code)] += leg.amount
    return {code: normal_balance(kind, s) for (kind, code), s in signed.items() if s}


# One dispute over lines: each (seller, amount, fee, released).
lines_strategy = st.lists(
    st.tuples(st.integers(1, 4), st.integers(1, 10**7), st.floats(0, 1), st.booleans()),
    min_size=1, max_size=5)


def _shares(lines) -> list[LineShare]:
    return [LineShare(seller_id=s, amount=a, fee_returned=int(a * f), released=r)
            for s, a, f, r in lines]


def _frozen(shares: list[LineShare]) -> dict[int, int]:
    frozen: dict[int, int] = defaultdict(int)
    for share in shares:
        if share.released:
            frozen[share.seller_id] += share.amount - share.fee_returned
    return {sid: net for sid, net in frozen.items() if net}


def test_opened_reserves_amount_and_fee_and_freezes_released_shares():
    posting = rules.dispute_opened("sandbox", "EUR", 6490, 1500, {7: 4320})
    assert posting.event == "dispute_opened"
    assert balances(posting) == {"dispute_reserve:sandbox": 7990, "psp_clearing:sandbox": -7990,
                                 "seller_available:7": -4320, "seller_reserved:7": 4320}


def test_opened_on_held_lines_only_touches_the_psp_accounts():
    posting = rules.dispute_opened("sandbox", "EUR", 2400, 1500, {})
    assert balances(posting) == {"dispute_reserve:sandbox": 3900, "psp_clearing:sandbox": -3900}


@given(lines=lines_strategy, fee=st.integers(0, 5000), returned=st.booleans())
def test_opened_then_won_gives_everything_back_but_a_kept_fee(lines, fee, returned):
    shares = _shares(lines)
    amount, frozen = sum(s.amount for s in shares), _frozen(shares)
    after = balances(rules.dispute_opened("sandbox", "EUR", amount, fee, frozen),
                     rules.dispute_won("sandbox", "EUR", amount, fee, returned, frozen))
    # Sellers and the reserve are whole again; only a fee the PSP keeps remains, as a PSP fee
    # paid out of clearing.
    expected = {} if returned or not fee else {"psp_clearing:sandbox": -fee, "psp_fees": fee}
    assert after == expected


@given(lines=lines_strategy, fee=st.integers(0, 5000))
def test_opened_then_lost_by_seller_takes_each_line_from_where_its_money_is(lines, fee):
    shares = _shares(lines)
    amount, frozen = sum(s.amount for s in shares), _frozen(shares)
    after = balances(rules.dispute_opened("sandbox", "EUR", amount, fee, frozen),
                     rules.dispute_lost("sandbox", "EUR", amount, fee, "seller", shares, frozen))
    expected: dict[str, int] = defaultdict(int)
    expected["psp_clearing:sandbox"] -= amount + fee
    expected["psp_fees"] += fee
    for share in shares:
        if share.released:
            # Available paid for the freeze; reserved is emptied by the loss.
            expected[f"seller_available:{share.seller_id}"] -= share.amount - share.fee_returned
            expected["platform_fees"] -= share.fee_returned
        else:
            expected[f"escrow:{share.seller_id}"] -= share.amount
    assert after == {k: v for k, v in expected.items() if v}
    assert all(not code.startswith(("seller_reserved", "dispute_reserve")) for code in after)


@given(lines=lines_strategy, fee=st.integers(0, 5000))
def test_opened_then_lost_by_platform_books_a_loss_and_unfreezes_sellers(lines, fee):
    shares = _shares(lines)
    amount, frozen = sum(s.amount for s in shares), _frozen(shares)
    after = balances(rules.dispute_opened("sandbox", "EUR", amount, fee, frozen),
                     rules.dispute_lost("sandbox", "EUR", amount, fee, "platform", [], frozen))
    expected = {"psp_clearing:sandbox": -(amount + fee), "dispute_losses": amount,
                "psp_fees": fee}
    assert after == {k: v for k, v in expected.items() if v}


def test_lost_by_seller_refuses_shares_that_do_not_cover_the_amount():
    shares = [LineShare(seller_id=1, amount=1000, fee_returned=100, released=False)]
    with pytest.raises(UnbalancedPosting, match="line shares 1000 != 2400"):
        rules.dispute_lost("sandbox", "EUR", 2400, 1500, "seller", shares, {})


def test_lost_refuses_an_unknown_liable_party():
    with pytest.raises(UnbalancedPosting, match="unknown liable party 'buyer'"):
        rules.dispute_lost("sandbox", "EUR", 2400, 1500, "buyer", [], {})


@pytest.mark.parametrize("amount, fee", [(0, 0), (-1, 0), (100, 101), (100, -1)])
def test_line_share_refuses_impossible_amounts(amount, fee):
    with pytest.raises(UnbalancedPosting):
        LineShare(seller_id=1, amount=amount, fee_returned=fee, released=False)


def test_won_without_the_fee_books_it_as_a_psp_fee():
    posting = rules.dispute_won("sandbox", "EUR", 2400, 1500, False, {})
    assert balances(posting) == {"psp_clearing:sandbox": 2400, "psp_fees": 1500,
                                 "dispute_reserve:sandbox": -3900}
