"""Refunding any amount of a converted or taxed line: given in the buyer's currency or the
line's own, split into the seller's settlement amount at the order's frozen rate and the
buyer's parts (mid, margin, tax). Property tests over 0-, 2- and 3-decimal currencies: in any
sequence of partial refunds no minor unit is made or lost, and both sides complete together."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain import cross_currency as cc
from app.domain.fx import convert
from app.domain.ledger import AccountKind, LineShare
from tests.unit.domain.test_domain_fx import CURRENCIES, RATES

ZERO = cc.BuyerParts(0, 0, 0, "DE")


def _line(settlement: int, source: str, target: str, margin_bps: int, tax_bps: int):
    c = convert(settlement, source, target, RATES.rate(source, target), margin_bps)
    tax = (c.presentment * tax_bps * 2 + 10_000) // 20_000
    return cc.LineBalance(cc.BuyerParts(c.at_mid, c.margin, tax, "DE"), settlement, ZERO, 0,
                          converted=source != target)


def _after(line: cc.LineBalance, part: cc.LineRefund) -> cc.LineBalance:
    b, p = line.back, part.back
    return cc.LineBalance(line.paid, line.settlement,
                          cc.BuyerParts(b.at_mid + p.at_mid, b.margin + p.margin, b.tax + p.tax,
                                        b.tax_country),
                          line.settlement_back + part.settlement, line.converted)


def _sane(line: cc.LineBalance, part: cc.LineRefund) -> None:
    p, paid, back = part.back, line.paid, line.back
    assert min(p.at_mid, p.margin, p.tax, part.settlement) >= 0
    assert p.at_mid <= paid.at_mid - back.at_mid and p.margin <= paid.margin - back.margin
    assert p.tax <= paid.tax - back.tax and part.settlement <= line.settlement_room
    if not line.converted:  # in the buyer's own currency the mid part is the seller's
        assert p.at_mid == part.settlement and p.margin == 0


steps = st.lists(st.tuples(st.booleans(), st.floats(min_value=0.0, max_value=1.0)),
                 max_size=8)


@settings(max_examples=400, deadline=None)
@given(st.integers(1, 10**7), st.sampled_from(CURRENCIES), st.sampled_from(CURRENCIES),
       st.integers(0, 500), st.integers(0, 2500), steps)
def test_partial_refunds_in_either_currency_return_exactly_what_was_paid(
        settlement, source, target, margin_bps, tax_bps, plan):
    line = _line(settlement, source, target, margin_bps, tax_bps)
    if line.paid.paid == 0:
        return  # checkout refuses a line that converts to nothing
    for in_buyers_currency, fraction in plan:
        room = line.room if in_buyers_currency else line.settlement_room
        amount = max(1, int(room * fraction))
        if room <= 0 or amount > room:
            continue
        if in_buyers_currency:
            part = cc.by_presentment(line, amount)
            assert part.back.paid == amount  # the buyer gets exactly what support typed
        else:
            part = cc.by_settlement(line, amount)
            assert part.settlement == amount
        _sane(line, part)
        line = _after(line, part)
        # The two sides complete together: never the seller's money all back and not the
        # buyer's, or the other way round.
        assert (line.room == 0) == (line.settlement_room == 0)
    if line.room:
        last = cc.by_presentment(line, line.room)
        _sane(line, last)
        line = _after(line, last)
    assert line.back == line.paid and line.settlement_back == line.settlement


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 10**6), st.sampled_from(CURRENCIES), st.sampled_from(CURRENCIES),
       st.integers(0, 500), st.integers(0, 2500), st.integers(1, 10**6))
def test_a_refund_by_the_buyers_amount_posts_balanced_in_every_currency(
        settlement, source, target, margin_bps, tax_bps, wanted):
    line = _line(settlement, source, target, margin_bps, tax_bps)
    if line.paid.paid == 0:
        return
    part = cc.by_presentment(line, min(wanted, line.room))
    share = (LineShare(7, part.settlement, 0, False) if part.settlement else None)
    refund = cc.RefundPart(part.back.at_mid, part.back.margin, part.back.tax, "DE", share,
                           source)
    postings = cc.refund("sandbox", target, [refund])  # Posting refuses an unbalanced one
    clearing = sum(leg.amount for p in postings for leg in p.legs
                   if leg.account.kind == AccountKind.PSP_CLEARING)
    assert clearing == -min(wanted, line.room)
    tax = sum(leg.amount for p in postings for leg in p.legs
              if leg.account.kind == AccountKind.TAX_PAYABLE)
    assert tax == part.back.tax


def test_one_jpy_of_a_usd_line_gives_back_no_cent_and_the_platform_carries_it():
    # 1.00 USD paid in JPY is about 152 yen: a yen is two thirds of a cent. The first yen
    # rounds to a cent, the second to none (cumulatively 1.3 cents), the rest takes the rest.
    line = _line(100, "USD", "JPY", 150, 0)
    first = cc.by_presentment(line, 1)
    assert (first.settlement, first.back.paid) == (1, 1)
    line = _after(line, first)
    second = cc.by_presentment(line, 1)
    assert (second.settlement, second.back.paid) == (0, 1)
    line = _after(line, second)
    assert cc.by_presentment(line, line.room).settlement == 99


def test_a_taxed_line_in_the_buyers_currency_splits_net_and_tax():
    # 100.00 EUR + 19 % VAT, no conversion: refunding 59.50 EUR returns 50.00 net + 9.50 VAT.
    line = cc.LineBalance(cc.BuyerParts(10_000, 0, 1_900, "DE"), 10_000, ZERO, 0,
                          converted=False)
    part = cc.by_presentment(line, 5_950)
    assert (part.settlement, part.back.at_mid, part.back.tax) == (5_000, 5_000, 950)


def test_the_tax_in_a_chargeback_is_all_that_is_left_or_its_share():
    assert cc.tax_charged_back(1233, 7723, 7723) == 1233
    assert cc.tax_charged_back(1233, 7723, 9999) == 1233  # never more than is left
    assert cc.tax_charged_back(1233, 7723, 3862) == 617    # half, rounded half up
    assert cc.tax_charged_back(0, 7723, 7723) == 0
    posting = cc.dispute_tax("EUR", "DE", 617)
    assert {(leg.account.kind, leg.account.owner): leg.amount for leg in posting.legs} == {
        (AccountKind.TAX_PAYABLE, "DE"): 617, (AccountKind.DISPUTE_LOSSES, ""): -617}
