"""Posting rules for refunds: from escrow while held, clawed back after release, reversed."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain import ledger as rules
from app.domain.ledger import Account, AccountKind, LineShare, UnbalancedPosting, seller


def legs(posting) -> dict[str, int]:
    return {leg.account.code: leg.amount for leg in posting.legs}


def test_a_held_line_is_refunded_from_escrow_with_its_whole_amount():
    posting = rules.refund("sandbox", "EUR", [LineShare(7, 1000, 100, released=False)])
    assert legs(posting) == {"escrow:7": 1000, "psp_clearing:sandbox": -1000}


def test_a_released_line_is_clawed_back_and_its_fee_returned_from_revenue():
    posting = rules.refund("sandbox", "EUR", [LineShare(7, 1000, 100, released=True)])
    assert legs(posting) == {"seller_available:7": 900, "platform_fees": 100,
                             "psp_clearing:sandbox": -1000}


def test_a_refund_over_held_and_released_lines_of_two_sellers():
    shares = [LineShare(7, 2400, 240, released=True), LineShare(8, 500, 50, released=False)]
    posting = rules.refund("sandbox", "EUR", shares)
    assert legs(posting) == {"seller_available:7": 2160, "platform_fees": 240, "escrow:8": 500,
                             "psp_clearing:sandbox": -2900}


def test_a_reversal_is_the_exact_mirror_of_the_refund():
    shares = [LineShare(7, 2400, 240, released=True), LineShare(8, 500, 0, released=False)]
    refund, reversed_ = (rules.refund("sandbox", "EUR", shares),
                         rules.refund_reversed("sandbox", "EUR", shares))
    assert reversed_.event == "refund_reversed"
    assert legs(reversed_) == {code: -amount for code, amount in legs(refund).items()}


@pytest.mark.parametrize(("amount", "fee"), [(0, 0), (-5, 0), (100, 101), (100, -1)])
def test_impossible_line_shares_are_refused(amount, fee):
    with pytest.raises(UnbalancedPosting):
        LineShare(7, amount, fee, released=False)


@given(st.lists(st.tuples(st.integers(1, 50), st.integers(1, 10**9), st.data(), st.booleans()),
                min_size=1, max_size=6))
def test_refunds_always_balance_and_take_what_the_buyer_gets(parts):
    shares = []
    for sid, amount, data, released in parts:
        fee = data.draw(st.integers(0, amount))
        shares.append(LineShare(sid, amount, fee, released))
    posting = rules.refund("sandbox", "EUR", shares)
    assert sum(leg.amount for leg in posting.legs) == 0
    clearing = Account(AccountKind.PSP_CLEARING, "sandbox")
    assert sum(l.amount for l in posting.legs if l.account == clearing) == \
        -sum(s.amount for s in shares)
    for sid in {s.seller_id for s in shares}:
        taken = sum(l.amount for l in posting.legs
                    if l.account in (seller(AccountKind.ESCROW, sid),
                                     seller(AccountKind.SELLER_AVAILABLE, sid)))
        assert taken == sum(s.amount - (s.fee_returned if s.released else 0)
                            for s in shares if s.seller_id == sid)
