"""Stripe's settlement data through the official SDK, against the fake: a day's balance
transactions (and a payout's) in the common line shape, paged, with the platform's payment
reference on every card movement."""
from __future__ import annotations

import datetime as dt

import pytest

from app.providers.base import ProviderError
from app.providers.stripe import connect
from app.providers.stripe.settlement import line_type
from tests.fakes.stripe.controls import close, pay_session
from tests.providers.stripe.conftest import key, session_request


def today() -> str:
    return dt.datetime.now(dt.timezone.utc).date().isoformat()


def captured(provider, fake, amount=2500, card="4242424242424242") -> str:
    reference = provider.create_session(session_request(amount=amount)).reference
    assert pay_session(fake, reference, card) is None
    provider.capture(reference, amount, key())
    return reference


def all_lines(provider, day):
    lines, cursor, pages = [], None, 0
    while True:
        page = provider.settlement_page(day, cursor)
        lines += page.lines
        pages += 1
        if page.cursor is None:
            return lines, pages
        cursor = page.cursor


def test_a_days_movements_map_to_common_lines_with_our_payment_reference(stripe_provider,
                                                                         fake):
    paid = captured(stripe_provider, fake, 3000)
    stripe_provider.refund(paid, 1000, key())
    disputed = captured(stripe_provider, fake, 2500, card="4000000000000259")
    dispute_id = fake.events_of("charge.dispute.created")[0]["data"]["object"]["id"]
    close(fake, dispute_id, "won")
    account = connect.create_account(stripe_provider, "s@test.example", "DE", key())
    payout = stripe_provider.create_payout(1800, "EUR", {"stripe_account": account}, "S", key())

    lines, _ = all_lines(stripe_provider, today())
    by_type = {}
    for line in lines:
        by_type.setdefault(line.type, []).append(line)
    charge = next(c for c in by_type["charge"] if c.payment == paid)
    assert (charge.gross, charge.fee, charge.net, charge.currency) == (
        3000, 3000 * 290 // 10_000 + 30, 3000 - (3000 * 290 // 10_000 + 30), "EUR")
    assert charge.source == paid  # matched by the payment's reference, not Stripe's ch_…
    [refund] = by_type["refund"]
    assert (refund.gross, refund.net, refund.payment) == (-1000, -1000, paid)
    assert refund.source.startswith("re_")
    [opened], [reversed_] = by_type["dispute"], by_type["dispute_reversal"]
    assert (opened.source, opened.net, opened.payment) == (dispute_id, -4000, disputed)
    assert (reversed_.source, reversed_.net) == (dispute_id, 4000)
    [transfer] = by_type["payout"]
    assert (transfer.source, transfer.net, transfer.payout) == (payout.reference, -1800,
                                                                payout.reference)
    assert all_lines(stripe_provider, "2001-01-01")[0] == []


def test_pages_follow_the_cursor_and_the_sdk_sends_the_filters(stripe_provider, fake,
                                                               monkeypatch):
    from app.providers.stripe import settlement

    monkeypatch.setattr(settlement, "PAGE_SIZE", 2)
    for amount in (1000, 2000, 3000):
        captured(stripe_provider, fake, amount)
    lines, pages = all_lines(stripe_provider, today())
    assert sorted(line.gross for line in lines) == [1000, 2000, 3000] and pages == 2
    listed = [path for method, path, _ in fake.calls if path == "/v1/balance_transactions"]
    assert len(listed) == 2


def test_unknown_stripe_types_are_adjustments_never_charges():
    assert line_type({"type": "climate_order_purchase", "amount": -5, "source": None}) == \
        "adjustment"
    assert line_type({"type": "adjustment", "amount": -5, "source": "dp_1"}) == "dispute"
    assert line_type({"type": "payment", "amount": 5, "source": "py_1"}) == "charge"


def test_a_payouts_balance_transactions_are_those_it_swept(stripe_provider, fake):
    from tests.fakes.stripe.controls import automatic_payout

    first = captured(stripe_provider, fake, 1000)
    payout = automatic_payout(fake)
    captured(stripe_provider, fake, 2000)  # after the payout: not in it

    page = stripe_provider.payout_settlement_page(payout, None)
    assert page.cursor is None
    assert sorted((line.type, line.net) for line in page.lines) == [
        ("charge", 1000 - (1000 * 290 // 10_000 + 30)),
        ("payout", -(1000 - (1000 * 290 // 10_000 + 30)))]
    assert next(line for line in page.lines if line.type == "charge").payment == first


def test_a_top_up_and_its_reversal_are_lines_of_the_top_up(stripe_provider, fake):
    funded = stripe_provider.fund(4320, "EUR", key())
    fake.fail_topups = 1
    with pytest.raises(ProviderError, match="refused"):
        stripe_provider.fund(1000, "EUR", key())
    refused = next(t["id"] for t in fake.of_kind("topup") if t["status"] == "failed")
    lines, _ = all_lines(stripe_provider, today())
    found = sorted((line.type, line.source, line.net, line.payout) for line in lines)
    assert found == sorted([("topup", funded, 4320, None), ("topup", refused, 1000, None),
                            ("topup_reversal", refused, -1000, None)])
