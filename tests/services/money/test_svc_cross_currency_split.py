"""A partial capture of a converted or taxed order: every part of every line taken in
proportion, and the postings still balance in every currency (property test)."""
from __future__ import annotations

from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain import cross_currency as rules
from app.services.money.cross_currency import line_money

lines = st.lists(st.tuples(st.sampled_from(["EUR", "USD", "JPY", "KWD"]),
                           st.integers(1, 10**7), st.integers(0, 10**5),
                           st.integers(0, 10**5), st.integers(1, 10**7)),
                 min_size=1, max_size=5)


@settings(max_examples=200, deadline=None)
@given(lines, st.data())
def test_any_capture_of_a_converted_order_balances_per_currency(specs, data):
    order_lines = []
    for i, (cur, settlement, margin, tax, at_mid) in enumerate(specs):
        same = cur == "EUR"
        paid_net = settlement if same else at_mid + margin
        order_lines.append(SimpleNamespace(
            seller_id=i + 1, currency=cur, line_total=settlement, tax_amount=tax,
            fx_margin=0 if same else margin, paid=paid_net + tax))
    order = SimpleNamespace(currency="EUR", buyer_country="DE", lines=order_lines)
    total = sum(line.paid for line in order_lines)
    captured = data.draw(st.integers(1, total))
    money = line_money(order, captured)
    assert sum(part.paid for part in money) == captured
    for part, line in zip(money, order_lines):
        assert 0 <= part.tax <= line.tax_amount and 0 <= part.margin <= line.fx_margin
        assert 0 <= part.settlement <= line.line_total and part.at_mid >= 0
    if captured == total:  # the full capture takes the frozen amounts exactly
        assert [p.settlement for p in money] == [line.line_total for line in order_lines]
    postings = rules.capture("sandbox", "EUR", captured, 0, money)
    for posting in postings:
        assert sum(leg.amount for leg in posting.legs) == 0


@settings(max_examples=200, deadline=None)
@given(lines, st.data())
def test_a_per_shipment_capture_takes_its_lines_frozen_amounts_exactly(specs, data):
    """Per-shipment capture (services/payments/captures): a capture of some lines, for what
    those lines cost the buyer, holds each at its frozen amounts and balances per currency."""
    order_lines = []
    for i, (cur, settlement, margin, tax, at_mid) in enumerate(specs):
        same = cur == "EUR"
        paid_net = settlement if same else at_mid + margin
        order_lines.append(SimpleNamespace(
            seller_id=i + 1, currency=cur, line_total=settlement, tax_amount=tax,
            fx_margin=0 if same else margin, paid=paid_net + tax))
    order = SimpleNamespace(currency="EUR", buyer_country="DE", lines=order_lines)
    shipped = data.draw(st.lists(st.sampled_from(order_lines), min_size=1, unique_by=id))
    captured = sum(line.paid for line in shipped)
    money = line_money(order, captured, shipped)
    assert [(p.settlement, p.tax, p.margin) for p in money] == [
        (line.line_total, line.tax_amount, line.fx_margin) for line in shipped]
    for posting in rules.capture("sandbox", "EUR", captured, 0, money):
        assert sum(leg.amount for leg in posting.legs) == 0
