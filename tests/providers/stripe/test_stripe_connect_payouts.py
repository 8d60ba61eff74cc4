"""A seller's Connect payout as Stripe sees it: our transfer, then the connected account's own
payout to its bank (Stripe-Account), its Connect webhooks, and treasury top-ups."""
from __future__ import annotations

import json
import time

import pytest

from app.providers.base import EventKind, ProviderError
from app.providers.stripe import connect
from tests.fakes.stripe import sign
from tests.fakes.stripe.controls import settle_payout
from tests.providers.stripe.conftest import WEBHOOK_SECRET, key


@pytest.fixture
def account(stripe_provider) -> str:
    return connect.create_account(stripe_provider, "seller@test.example", "DE", key())


def parsed(stripe_provider, event: dict):
    raw = json.dumps(event).encode()
    return stripe_provider.parse_webhook(raw, {"Stripe-Signature": sign(
        WEBHOOK_SECRET, raw, int(time.time()))})


def test_the_transfer_is_followed_by_the_accounts_bank_payout(stripe_provider, fake, account):
    fake.instant_payouts = False
    ours = key()
    payout = stripe_provider.create_payout(1800, "EUR", {"stripe_account": account}, "", ours)
    (bank,) = fake.of_kind("payout")
    assert (payout.status, payout.rail_reference) == ("in_transit", bank["id"])
    assert fake.extras[bank["id"]]["account"] == account
    assert (bank["amount"], bank["metadata"]) == (1800, {"holdfast_payout": ours})
    # A retry repeats nothing: both requests replay under their keys.
    assert stripe_provider.create_payout(1800, "EUR", {"stripe_account": account}, "",
                                         ours) == payout
    assert (fake.executions(ours), fake.executions(f"{ours}-bank")) == (1, 1)

    settle_payout(fake, bank["id"], "paid")
    assert stripe_provider.retrieve_payout(payout.reference).status == "paid"
    settle_payout(fake, bank["id"], "failed", "account_closed")  # the bank sent it back
    back = stripe_provider.retrieve_payout(payout.reference)
    assert (back.status, back.failure_code, back.reference) == (
        "failed", "account_closed", payout.reference)

    event = parsed(stripe_provider, fake.events_of("payout.failed")[-1])
    assert (event.kind, event.object_id, event.our_reference) == (
        EventKind.PAYOUT, bank["id"], ours)


def test_a_platform_payout_event_is_not_a_sellers(stripe_provider, fake):
    event = fake.emit("payout.paid", {"id": "po_platform", "object": "payout", "metadata": {}})
    assert parsed(stripe_provider, event).kind == EventKind.OTHER


def test_a_bank_payout_stripe_refuses_fails_with_the_transfer_named(stripe_provider, fake,
                                                                    account):
    ours = key()
    # The connected account's balance is gone before its payout is asked for.
    moved = stripe_provider._call(stripe_provider._client.v1.transfers.create, {
        "amount": 900, "currency": "eur", "destination": account,
        "metadata": {"holdfast_payout": ours}}, key=ours)
    connect.reverse_transfer(stripe_provider, moved["id"], 900, key())
    payout = stripe_provider.create_payout(900, "EUR", {"stripe_account": account}, "", ours)
    assert (payout.status, payout.reference, payout.failure_code) == (
        "failed", moved["id"], "balance_insufficient")
    assert fake.of_kind("payout") == []


def test_a_top_up_funds_the_platform_once_per_key(stripe_provider, fake):
    once = key()
    reference = stripe_provider.fund(4320, "EUR", once)
    assert stripe_provider.fund(4320, "EUR", once) == reference
    (topup,) = fake.of_kind("topup")
    assert (topup["id"], topup["amount"], topup["currency"], topup["status"]) == (
        reference, 4320, "eur", "succeeded")


def test_a_top_up_the_bank_refuses_is_an_error_naming_it_and_is_booked_then_reversed(
        stripe_provider, fake):
    fake.fail_topups = 1
    once = key()
    with pytest.raises(ProviderError, match="refused top-up") as refused:
        stripe_provider.fund(4320, "EUR", once)
    (topup,) = fake.of_kind("topup")
    assert (refused.value.code, refused.value.executed, refused.value.retryable) == (
        "topup_failed", False, False)
    assert refused.value.reference == topup["id"] and topup["status"] == "failed"
    # As Stripe books a failed top-up: in, then out again, both about the top-up.
    booked = sorted((t["type"], t["amount"]) for t in fake.of_kind("balance_transaction")
                    if t["source"] == topup["id"])
    assert booked == [("topup", 4320), ("topup_reversal", -4320)]
    with pytest.raises(ProviderError, match="refused top-up"):  # the key replays the refusal
        stripe_provider.fund(4320, "EUR", once)
    assert len(fake.of_kind("topup")) == 1
