"""Marketplace payouts on Stripe: transfers to sellers' connected accounts, reversals to claw
back, and the payout webhook path."""
from __future__ import annotations

import pytest

from app.providers.base import EventKind, ProviderError
from app.providers.stripe import connect
from tests.providers.stripe.conftest import key


@pytest.fixture
def account(stripe_provider) -> str:
    return connect.create_account(stripe_provider, "seller@test.example", "DE", key())


def test_connected_account_is_created_once_per_key(stripe_provider, fake):
    once = key()
    first = connect.create_account(stripe_provider, "s@test.example", "DE", once)
    assert first == connect.create_account(stripe_provider, "s@test.example", "DE", once)
    assert first.startswith("acct_") and len(fake.of_kind("account")) == 1
    assert fake.objects[first]["type"] == "express"


def test_payout_is_a_transfer_to_the_connected_account_grouped_by_order(stripe_provider, fake,
                                                                        account):
    payout_key = key()
    payout = stripe_provider.create_payout(
        1800, "EUR", {"stripe_account": account, "transfer_group": "order_42"}, "Seller",
        payout_key)
    assert (payout.status, payout.amount, payout.currency) == ("paid", 1800, "EUR")
    transfer = fake.objects[payout.reference]
    assert (transfer["destination"], transfer["transfer_group"], transfer["currency"]) == (
        account, "order_42", "eur")
    # The payout webhook path matches on our key when the transfer id is not stored yet.
    assert transfer["metadata"] == {"holdfast_payout": payout_key}
    again = stripe_provider.create_payout(
        1800, "EUR", {"stripe_account": account, "transfer_group": "order_42"}, "Seller",
        payout_key)
    assert again == payout and fake.executions(payout_key) == 1
    assert stripe_provider.retrieve_payout(payout.reference) == payout
    event = fake.events_of("transfer.created")[0]
    assert stripe_provider.event_kind(event["type"]) == EventKind.PAYOUT


def test_bank_details_are_refused_without_calling_stripe(stripe_provider, fake):
    with pytest.raises(ProviderError) as refused:
        stripe_provider.create_payout(1000, "EUR", {"iban": "DE89370400440532013000"}, "S",
                                      key())
    assert (refused.value.code, refused.value.executed) == ("destination_unsupported", False)
    assert "DE89" not in str(refused.value)
    assert fake.calls == []


def test_unknown_connected_account_is_refused(stripe_provider, fake):
    with pytest.raises(ProviderError) as refused:
        stripe_provider.create_payout(1000, "EUR", {"stripe_account": "acct_missing"}, "S",
                                      key())
    assert refused.value.executed is False and fake.of_kind("transfer") == []


def test_clawback_reverses_part_of_a_transfer_and_never_more_than_is_left(stripe_provider,
                                                                         fake, account):
    payout = stripe_provider.create_payout(2000, "EUR", {"stripe_account": account}, "S",
                                           key())
    reverse_key = key()
    reversal = connect.reverse_transfer(stripe_provider, payout.reference, 1500, reverse_key)
    assert (reversal.amount, reversal.currency, reversal.transfer_reference) == (
        1500, "EUR", payout.reference)
    assert connect.reverse_transfer(stripe_provider, payout.reference, 1500,
                                    reverse_key) == reversal
    assert fake.objects[payout.reference]["amount_reversed"] == 1500
    with pytest.raises(ProviderError) as refused:
        connect.reverse_transfer(stripe_provider, payout.reference, 501, key())
    assert (refused.value.code, refused.value.executed) == ("amount_too_large", False)
    connect.reverse_transfer(stripe_provider, payout.reference, 500, key())
    assert fake.objects[payout.reference]["reversed"] is True
