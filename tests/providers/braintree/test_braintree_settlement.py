"""Braintree's settlement data through the official SDK against the fake: transactions
searched by settlement date with their disbursement details, in the common line shape, paged
by a resumable cursor; and the settlement batch summary agreeing with them."""
from __future__ import annotations

import datetime as dt
import uuid

from app.providers.braintree import settlement


def key() -> str:
    return f"hf_{uuid.uuid4().hex}"


def today() -> str:
    return dt.datetime.now(dt.UTC).date().isoformat()


def settled_sale(bt, amount: int) -> str:
    provider = bt.provider()
    payment = provider.authorize_nonce(key(), "fake-valid-visa-nonce", amount, "EUR")
    provider.capture(payment.reference, amount, key())  # the fake settles sales at once
    return payment.reference


def all_lines(provider, day):
    lines, cursor, pages = [], None, 0
    while True:
        page = provider.settlement_page(day, cursor)
        lines += page.lines
        pages += 1
        if page.cursor is None:
            return lines, pages
        cursor = page.cursor


def test_settled_sales_and_credits_of_the_day_are_lines_with_their_disbursement(bt):
    paid = settled_sale(bt, 2500)
    refund = bt.provider().refund(paid, 1000, key())
    unsettled = all_lines(bt.provider(), today())[0]
    assert [line.type for line in unsettled] == ["charge"]  # the credit waits for the batch
    assert bt.fake.settle_batch() == 1

    lines, _ = all_lines(bt.provider(), today())
    by_type = {line.type: line for line in lines}
    charge, credit = by_type["charge"], by_type["refund"]
    assert (charge.source, charge.payment, charge.gross, charge.fee, charge.net) == (
        paid, paid, 2500, 0, 2500)
    assert (credit.source, credit.payment, credit.gross, credit.net) == (
        refund.reference, paid, -1000, -1000)
    assert charge.payout == f"disbursement:{today()}" and charge.currency == "EUR"
    assert all_lines(bt.provider(), "2001-01-01")[0] == []


def test_pages_resume_from_the_cursor(bt, monkeypatch):
    monkeypatch.setattr(settlement, "PAGE_SIZE", 2)
    for amount in (1000, 2000, 3000):
        settled_sale(bt, amount)
    lines, pages = all_lines(bt.provider(), today())
    # Two pages of settled transactions, then the page of the day's disputes (none).
    assert sorted(line.gross for line in lines) == [1000, 2000, 3000] and pages == 3
    second = bt.provider().settlement_page(today(), "2")
    assert [line.gross for line in second.lines] == [3000]
    assert second.cursor == settlement.DISPUTES
    disputes = bt.provider().settlement_page(today(), second.cursor)
    assert disputes.lines == () and disputes.cursor is None


def test_the_batch_summary_totals_the_days_lines(bt):
    paid = settled_sale(bt, 2500)
    settled_sale(bt, 1200)
    bt.provider().refund(paid, 700, key())
    bt.fake.settle_batch()
    summary = {r["kind"]: r for r in bt.provider().settlement_summary(today(), "EUR")}
    assert (summary["sale"]["count"], summary["sale"]["amount_settled"]) == (2, 3700)
    assert (summary["credit"]["count"], summary["credit"]["amount_settled"]) == (1, 700)
    lines, _ = all_lines(bt.provider(), today())
    assert sum(line.gross for line in lines if line.type == "charge") == 3700
    assert bt.provider().settlement_summary("2001-01-01", "EUR") == []
