"""Currency conversion: the ECB rates file, exact conversion with the margin split out, refunds
back at the frozen rate, and the per-currency capture and refund postings (property tests over
0-, 2- and 3-decimal currencies)."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from app.domain import cross_currency as cc
from app.domain.fx import FxError, RateTable, back_share, convert, parse_ecb, to_minor
from app.domain.ledger import AccountKind, LineShare

SHIPPED = Path(__file__).resolve().parents[3] / "data" / "fx" / "eurofxref-daily.xml"
CURRENCIES = ["EUR", "USD", "JPY", "KWD", "BHD", "GBP", "ISK"]  # exponents 2, 2, 0, 3, 3, 2, 0
RATES = RateTable(date(2026, 12, 4), {"EUR": Decimal(1), "USD": Decimal("1.0850"),
                                      "JPY": Decimal("162.48"), "KWD": Decimal("0.3338"),
                                      "BHD": Decimal("0.4090"), "GBP": Decimal("0.85210"),
                                      "ISK": Decimal("149.90")})

ECB = """<?xml version="1.0" encoding="UTF-8"?>
<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01"
  xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">
 <gesmes:subject>Reference rates</gesmes:subject>
 <Cube><Cube time='2026-12-04'>
  <Cube currency='USD' rate='1.0850'/><Cube currency='JPY' rate='162.48'/>
  <Cube currency='XAU' rate='0.0004'/>
 </Cube></Cube></gesmes:Envelope>"""


def test_reads_the_ecb_format_and_keeps_only_currencies_we_accept():
    table = parse_ecb(ECB)
    assert table.as_of == date(2026, 12, 4)
    assert table.per_eur == {"EUR": Decimal(1), "USD": Decimal("1.0850"),
                             "JPY": Decimal("162.48")}
    # A cross rate goes through the euro.
    assert table.rate("USD", "JPY") == Decimal("162.48") / Decimal("1.0850")
    assert table.rate("EUR", "EUR") == 1


def test_the_shipped_demo_file_parses():
    table = parse_ecb(SHIPPED.read_bytes())
    assert {"USD", "GBP", "JPY"} <= set(table.per_eur)


@pytest.mark.parametrize("text, message", [
    ("not xml", "not XML"),
    (ECB.replace("time='2026-12-04'", "time='04.12.2026'"), "YYYY-MM-DD"),
    (ECB.replace("rate='1.0850'", "rate='abc'"), "not a number"),
    (ECB.replace("rate='1.0850'", "rate='-1'"), "positive"),
    ("<!DOCTYPE x [<!ENTITY a 'b'>]><x/>", "DOCTYPE"),
    (ECB.replace("currency='USD'", "currency='XAG'").replace("currency='JPY'", "currency='XPT'"),
     "no currency"),
])
def test_a_bad_rates_file_is_refused_with_the_reason(text, message):
    with pytest.raises(FxError, match=message):
        parse_ecb(text)


def test_unknown_currency_has_no_rate():
    with pytest.raises(FxError, match="CHF"):
        RATES.rate("CHF", "EUR")


def test_a_worked_conversion_usd_to_eur_with_margin():
    # 59.00 USD at 1/1.085 = 0.92166 → 54.38 EUR at mid; +1.5 % margin → 55.19; margin 0.81.
    c = convert(5900, "USD", "EUR", RATES.rate("USD", "EUR"), 150)
    assert (c.at_mid, c.presentment, c.margin) == (5438, 5519, 81)


def test_exponents_are_respected():
    assert to_minor(1000, "EUR", "JPY", Decimal("162.48")) == 1625      # 10.00 EUR → ¥1625
    assert to_minor(1625, "JPY", "KWD", RATES.rate("JPY", "KWD")) == 3338  # ¥1625 → 3.338 KWD
    assert convert(7, "EUR", "EUR", Decimal(1), 150).margin == 0


amounts = st.integers(min_value=0, max_value=10**12)
currencies = st.sampled_from(CURRENCIES)
margins = st.integers(min_value=0, max_value=500)


@settings(max_examples=300, deadline=None)
@given(amounts, currencies, currencies, margins)
def test_conversion_parts_sum_exactly_and_the_margin_never_goes_negative(amount, src, dst, bps):
    c = convert(amount, src, dst, RATES.rate(src, dst), bps)
    assert c.at_mid + c.margin == c.presentment
    assert c.margin >= 0 and c.at_mid >= 0
    assert c.settlement == amount


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=1, max_value=10**9), st.integers(min_value=0, max_value=10**9),
       st.lists(st.integers(min_value=1, max_value=1000), min_size=1, max_size=12))
def test_refunds_of_a_line_in_any_steps_give_back_exactly_what_was_paid(whole, paid, cuts):
    # Cut the line into arbitrary steps; the last step takes whatever is left.
    steps, total = [], sum(cuts)
    taken = 0
    for i, cut in enumerate(cuts):
        part = whole - taken if i == len(cuts) - 1 else whole * cut // total
        steps.append(part)
        taken += part
    done, returned = 0, 0
    for part in steps:
        share = back_share(part, done, whole, paid)
        assert share >= 0
        returned += share
        done += part
        assert returned <= paid
    assert returned == paid


def test_a_refund_share_outside_the_line_is_refused():
    with pytest.raises(FxError):
        back_share(5, 8, 10, 100)


def _balances(postings):
    per_currency: dict[str, int] = {}
    for posting in postings:
        per_currency[posting.currency] = per_currency.get(posting.currency, 0) + sum(
            leg.amount for leg in posting.legs)
    return per_currency


line_specs = st.lists(st.tuples(st.integers(1, 3), currencies,
                                st.integers(min_value=1, max_value=10**9),
                                st.integers(min_value=0, max_value=2500)),
                      min_size=1, max_size=6)


@settings(max_examples=200, deadline=None)
@given(currencies, line_specs, margins)
def test_a_captured_mixed_cart_balances_in_every_currency(presentment, specs, bps):
    lines = []
    for seller_id, cur, settlement, tax_bps in specs:
        c = convert(settlement, cur, presentment, RATES.rate(cur, presentment), bps)
        tax = (c.presentment * tax_bps * 2 + 10_000) // 20_000
        lines.append(cc.LineMoney(c.at_mid, c.margin, tax, "DE", seller_id, cur, settlement))
    captured = sum(line.paid for line in lines)
    assume(captured > 0)  # an order's total is positive (orders.total_positive)
    fee = captured // 40
    postings = cc.capture("sandbox", presentment, captured, fee, lines)
    assert set(_balances(postings).values()) == {0}  # Posting refuses otherwise, too
    # Each seller's escrow in their own currency is exactly their lines' settlement amounts.
    for cur in {line.settlement_currency for line in lines}:
        escrow = -sum(leg.amount for p in postings if p.currency == cur for leg in p.legs
                      if leg.account.kind == AccountKind.ESCROW)
        assert escrow == sum(line.settlement for line in lines
                             if line.settlement_currency == cur)
    # Refunding every line in full at the order's rate returns exactly what was captured and
    # leaves the conversion, margin and tax accounts where they started.
    parts = [cc.RefundPart(line.at_mid, line.margin, line.tax, "DE",
                           LineShare(line.seller_id, line.settlement, 0, False),
                           line.settlement_currency)
             for line in lines]
    back = cc.refund("sandbox", presentment, parts)
    both = postings + back
    for kind in (AccountKind.FX_CONVERSION, AccountKind.FX_MARGIN, AccountKind.TAX_PAYABLE,
                 AccountKind.ESCROW):
        for cur in {p.currency for p in both}:
            assert sum(leg.amount for p in both if p.currency == cur for leg in p.legs
                       if leg.account.kind == kind) == 0
    clearing = sum(leg.amount for p in back for leg in p.legs
                   if leg.account.kind == AccountKind.PSP_CLEARING)
    assert clearing == -captured


def test_a_capture_that_does_not_add_up_is_refused():
    line = cc.LineMoney(5438, 81, 0, None, 1, "USD", 5900)
    with pytest.raises(ValueError):
        cc.capture("sandbox", "EUR", 5000, 0, [line])


def test_the_fx_difference_posting_moves_the_position_against_the_result():
    posting = cc.fx_difference("EUR", 12)
    kinds = {leg.account.kind: leg.amount for leg in posting.legs}
    assert kinds == {AccountKind.FX_RESULT: 12, AccountKind.FX_CONVERSION: -12}
