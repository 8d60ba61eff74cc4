"""The Drop-in calls outside the contract (authorize_nonce, client_token) go through the same
guard as every other PSP call: retried with the same order_id, counted by the breaker, refused
at once while it is open. The real adapter against the XML fake, on an injected clock."""
from __future__ import annotations

import random
import uuid

import pytest
from braintree.exceptions import ServiceUnavailableError

from app.extensions import queues
from app.providers.base import ProviderError, ProviderTimeout
from app.providers.breaker import CircuitBreaker, TokenBucket
from app.providers.registry import get_provider
from app.providers.resilience import CircuitOpen, GuardedProvider, RetryPolicy
from tests.fakes.braintree.wiring import braintree_on
from tests.flows import eventually
from tests.providers.test_provider_resilience import Clock

NONCE = "fake-valid-visa-nonce"


def key() -> str:
    return f"hf_{uuid.uuid4().hex}"


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def guarded(app, bt, clock):
    """A function: the Braintree adapter behind a guard (breaker of 2, fake clock)."""

    def make(attempts=3, threshold=2):
        policy = RetryPolicy(attempts=attempts, base_delay=0.5, max_delay=4.0, budget=30.0,
                             sleep=clock.sleep, clock=clock, rng=random.Random(3))
        breaker = CircuitBreaker(queues.connection, "braintree-guard-test", threshold=threshold,
                                 cooldown=30.0, clock=clock)
        bucket = TokenBucket(queues.connection, "braintree-guard-test", rate=1000.0,
                             burst=1000.0, clock=clock)
        return GuardedProvider(bt.provider(), "braintree", policy, breaker, bucket)

    return make


@pytest.mark.parametrize("fault", ["5xx_before", "5xx_after", "429"])
def test_a_failed_sale_is_retried_with_the_same_order_id_and_sells_once(bt, guarded, clock,
                                                                       fault):
    reference = key()
    bt.fake.fail_next(fault)

    report = guarded().authorize_nonce(reference, NONCE, 2500, "EUR")

    assert report.status == "authorized"
    assert len(clock.sleeps) == 1  # one backoff, one retry
    assert bt.executions(reference) == 1  # after 5xx_after the retry found the sale
    assert [t["order_id"] for t in bt.fake.transactions.values()] == [reference]


def test_a_decline_is_an_answer_not_retried_and_not_counted(bt, guarded, clock):
    provider = guarded(threshold=2)
    for _ in range(3):
        with pytest.raises(ProviderError) as declined:
            provider.authorize_nonce(key(), "fake-processor-declined-visa-nonce", 2500, "EUR")
        assert declined.value.executed is True
    assert clock.sleeps == [] and len(bt.fake.transactions) == 3
    assert provider.breaker.state()["state"] == "closed"


def test_a_timeout_after_sending_is_not_retried(bt, guarded):
    bt.provider().timeout = 0.5  # the fake holds the answer 1.5 s (HELD_BACK) after the sale
    reference = key()
    bt.fake.fail_next("timeout_after")
    with pytest.raises(ProviderTimeout):
        guarded().authorize_nonce(reference, NONCE, 2500, "EUR")
    # The sale happened once (the janitor will find it) and was not sent again. Under load the
    # fake may still be executing it when the adapter gives up: wait for it, then make sure.
    eventually(lambda: bt.executions(reference) == 1)
    assert len(bt.fake.transactions) == 1


def test_an_open_breaker_refuses_the_sale_and_the_client_token_without_calling(bt, guarded,
                                                                               clock):
    provider = guarded(attempts=1, threshold=2)
    for _ in range(2):
        bt.fake.fail_next("5xx_before")
        with pytest.raises(ProviderError):
            provider.authorize_nonce(key(), NONCE, 2500, "EUR")
    assert provider.breaker.state() == {"state": "open", "failures": 2}
    tokens_before = len(bt.fake.fingerprints)

    reference = key()
    with pytest.raises(CircuitOpen) as refused:
        provider.authorize_nonce(reference, NONCE, 2500, "EUR")
    assert refused.value.executed is False  # checkout may fail over / let the buyer retry
    with pytest.raises(CircuitOpen):
        provider.client_token()
    assert not bt.fake.transactions and len(bt.fake.fingerprints) == tokens_before

    clock.now += 30  # cool-down over: the probe goes through and closes the breaker
    assert provider.authorize_nonce(reference, NONCE, 2500, "EUR").status == "authorized"
    assert provider.breaker.state()["state"] == "closed"
    assert provider.client_token()


def test_a_client_token_is_retried_when_braintree_is_briefly_unavailable(bt, guarded, clock,
                                                                        monkeypatch):
    tokens = bt.provider().gateway.client_token
    generate, outages = tokens.generate, [ServiceUnavailableError("503")]

    def flaky(*args):
        if outages:
            raise outages.pop()
        return generate(*args)

    monkeypatch.setattr(tokens, "generate", flaky)

    token = guarded().client_token()

    assert token and len(bt.fake.fingerprints) == 1 and len(clock.sleeps) == 1


def test_a_client_token_outage_trips_the_breaker(bt, guarded, monkeypatch):
    tokens = bt.provider().gateway.client_token

    def down(*args):
        raise ServiceUnavailableError("503")

    monkeypatch.setattr(tokens, "generate", down)
    provider = guarded(attempts=1, threshold=2)
    for _ in range(2):
        with pytest.raises(ProviderError) as failed:
            provider.client_token()
        assert not isinstance(failed.value, CircuitOpen)
    with pytest.raises(CircuitOpen):
        provider.client_token()


def test_the_registry_guards_the_drop_in_calls(app, serve_wsgi):
    with braintree_on(app, serve_wsgi) as (fake, _url):
        provider = get_provider("braintree")
        assert isinstance(provider, GuardedProvider)
        assert provider.breaker.provider == "braintree"
        # Through the guard, not the __getattr__ pass-through to the adapter.
        assert "authorize_nonce" in vars(GuardedProvider) and "client_token" in vars(
            GuardedProvider)
        assert provider.client_token() and len(fake.fingerprints) == 1
