"""A fresh fake Stripe per test and the adapter pointed at it through the official SDK."""
from __future__ import annotations

import uuid

import pytest

from app.providers.base import SessionRequest
from app.providers.stripe import StripeProvider
from tests.fakes.stripe import FakeStripe
from tests.fakes.stripe.server import running

API_KEY = "sk_test_adapter_suite"
WEBHOOK_SECRET = "whsec_adapter_suite"
# Ordinary calls get a timeout no loaded machine reaches; the one call a "timeout_after" fault
# holds back (HELD_BACK s after executing) goes through `impatient_provider` and gives up first.
CLIENT_TIMEOUT = 10.0
QUICK_TIMEOUT = 0.5
HELD_BACK = QUICK_TIMEOUT + 1.0


@pytest.fixture
def fake():
    """The fake Stripe, served on loopback; answers "timeout_after" faults after the client
    has given up."""
    with running(FakeStripe(api_key=API_KEY, webhook_secret=WEBHOOK_SECRET,
                            timeout_sleep=HELD_BACK)) as served:
        yield served


@pytest.fixture
def stripe_provider(fake) -> StripeProvider:
    """The adapter under test."""
    return StripeProvider(API_KEY, [WEBHOOK_SECRET], api_base=fake.public_url,
                          timeout=CLIENT_TIMEOUT)


@pytest.fixture
def impatient_provider(fake) -> StripeProvider:
    """The adapter with a QUICK_TIMEOUT, for the call a "timeout_after" fault holds back."""
    return StripeProvider(API_KEY, [WEBHOOK_SECRET], api_base=fake.public_url,
                          timeout=QUICK_TIMEOUT)


def session_request(amount: int = 2500, currency: str = "EUR", mode: str = "hosted",
                    reference: str | None = None, key: str | None = None) -> SessionRequest:
    """What checkout asks for, with a fresh reference and key unless given."""
    reference = reference or f"hf_{uuid.uuid4().hex}"
    return SessionRequest(reference=reference, amount=amount, currency=currency, mode=mode,
                          return_url="http://127.0.0.1:9/checkout/1/return",
                          cancel_url="http://127.0.0.1:9/checkout/1",
                          parent_origin="http://127.0.0.1:9",
                          idempotency_key=key or reference)


def key() -> str:
    """A fresh idempotency key."""
    return f"k_{uuid.uuid4().hex}"
