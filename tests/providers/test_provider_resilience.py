"""The guard around adapters: retries with the same key and parameters, backoff with jitter,
429 and Retry-After, the client-side rate limit and the circuit breaker — on an injected clock,
so nothing here really waits. Breaker and bucket state live in the suite's Redis."""
from __future__ import annotations

import random

import pytest

from app.extensions import queues
from app.providers.base import ProviderError, ProviderTimeout
from app.providers.breaker import CircuitBreaker, TokenBucket
from app.providers.registry import get_provider
from app.providers.resilience import CircuitOpen, GuardedProvider, RetryPolicy


class Clock:
    """Time that moves only when someone sleeps (or the test says so)."""

    def __init__(self):
        self.now = 1_000_000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Scripted:
    """An adapter whose answers are scripted: each call pops the next outcome."""

    name = "scripted"
    timeout = 1.0

    def __init__(self, *outcomes):
        self.outcomes = list(outcomes)
        self.calls: list[tuple] = []

    def capture(self, reference, amount, idempotency_key):
        self.calls.append((reference, amount, idempotency_key))
        outcome = self.outcomes.pop(0) if self.outcomes else "ok"
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def submit_dispute_evidence(self, reference, evidence, submit=True):
        self.calls.append((reference, evidence, submit))
        outcome = self.outcomes.pop(0) if self.outcomes else "ok"
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def unavailable(executed=None, status=500):
    return ProviderError("boom", code="api_error", status=status, retryable=True,
                         executed=executed)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def guarded(app, clock):
    """A function: scripted adapter → guarded adapter with a breaker of 3 and a fake clock."""

    def make(inner, attempts=4, budget=30.0, threshold=3, rate=1000.0, burst=1000.0,
             with_breaker=True):
        policy = RetryPolicy(attempts=attempts, base_delay=0.5, max_delay=4.0, budget=budget,
                             sleep=clock.sleep, clock=clock, rng=random.Random(7))
        breaker = CircuitBreaker(queues.connection, "scripted", threshold=threshold,
                                 cooldown=30.0, clock=clock) if with_breaker else None
        bucket = TokenBucket(queues.connection, "scripted", rate=rate, burst=burst, clock=clock)
        return GuardedProvider(inner, "scripted", policy, breaker, bucket)

    return make


# --- retries ---------------------------------------------------------------------------------

def test_retryable_errors_are_retried_with_the_same_key_and_parameters(guarded, clock):
    inner = Scripted(unavailable(), unavailable(executed=False), "captured")

    assert guarded(inner).capture("ps_1", 2500, "key-1") == "captured"

    assert inner.calls == [("ps_1", 2500, "key-1")] * 3
    assert len(clock.sleeps) == 2


def test_refusals_are_never_retried(guarded, clock):
    refusal = ProviderError("too much", code="amount_too_large", status=400, executed=False)
    inner = Scripted(refusal)

    with pytest.raises(ProviderError) as caught:
        guarded(inner).capture("ps_1", 2500, "key-1")

    assert caught.value is refusal
    assert len(inner.calls) == 1 and clock.sleeps == []


def test_a_timeout_is_not_retried_it_goes_to_the_janitor(guarded, clock):
    inner = Scripted(ProviderTimeout("slow"))

    with pytest.raises(ProviderTimeout):
        guarded(inner).capture("ps_1", 2500, "key-1")

    assert len(inner.calls) == 1


def test_unkeyed_calls_are_retried_only_when_certainly_not_executed(guarded):
    inner = Scripted(unavailable(executed=None))
    with pytest.raises(ProviderError):
        guarded(inner).submit_dispute_evidence("dp_1", {"product_description": "mug"})
    assert len(inner.calls) == 1

    inner = Scripted(unavailable(executed=False), "staged")
    assert guarded(inner).submit_dispute_evidence("dp_1", {"x": "y"}) == "staged"
    assert len(inner.calls) == 2


def test_attempts_are_bounded_and_the_last_error_surfaces(guarded):
    errors = [unavailable() for _ in range(6)]
    inner = Scripted(*errors)

    with pytest.raises(ProviderError) as caught:
        guarded(inner, attempts=4, with_breaker=False).capture("ps_1", 100, "k")

    assert len(inner.calls) == 4
    assert caught.value is errors[3]


def test_backoff_is_exponential_with_full_jitter_within_bounds(guarded, clock):
    inner = Scripted(*[unavailable() for _ in range(6)])
    with pytest.raises(ProviderError):
        guarded(inner, attempts=6, with_breaker=False).capture("ps_1", 100, "k")

    caps = [0.5, 1.0, 2.0, 4.0, 4.0]  # base 0.5 doubling, capped at max_delay 4
    assert len(clock.sleeps) == 5
    for slept, cap in zip(clock.sleeps, caps):
        assert 0 <= slept <= cap
    # jitter: the waits are not simply the caps
    assert clock.sleeps != caps


def test_jitter_spreads_retries_over_the_whole_window():
    policy = RetryPolicy(base_delay=1.0, max_delay=8.0, rng=random.Random(1))
    waits = [policy.backoff(3, unavailable()) for _ in range(2000)]
    assert min(waits) >= 0 and max(waits) <= 4.0
    assert min(waits) < 0.2 and max(waits) > 3.8  # full jitter, not a fixed delay


def test_no_retry_is_started_that_could_not_finish_within_the_budget(guarded, clock):
    inner = Scripted(*[unavailable() for _ in range(10)])

    with pytest.raises(ProviderError):
        guarded(inner, attempts=10, budget=3.0, with_breaker=False).capture("ps_1", 100, "k")

    # every wait + the 1 s call timeout fitted in the 3 s budget when it was started
    assert sum(clock.sleeps) + 1.0 <= 3.0 + 1.0
    assert len(inner.calls) < 10


def test_429_honours_retry_after(guarded, clock):
    limited = ProviderError("slow down", code="rate_limited", status=429, retryable=True,
                            retry_after=2.5)
    inner = Scripted(limited, "captured")

    assert guarded(inner).capture("ps_1", 100, "k") == "captured"

    assert 2.5 <= clock.sleeps[0] <= 3.0


def test_429_with_retry_after_beyond_the_budget_gives_up_not_executed(guarded, clock):
    limited = ProviderError("slow down", code="rate_limited", status=429, retryable=True,
                            retry_after=60)
    inner = Scripted(limited)

    with pytest.raises(ProviderError) as caught:
        guarded(inner, budget=10.0).capture("ps_1", 100, "k")

    assert caught.value.executed is False and len(inner.calls) == 1 and clock.sleeps == []


# --- rate limit ------------------------------------------------------------------------------

def test_rate_limit_waits_for_a_token(guarded, clock):
    inner = Scripted()
    provider = guarded(inner, rate=2.0, burst=2.0)

    for _ in range(4):
        provider.capture("ps_1", 100, "k")

    # two from the burst, then one token every half second
    assert clock.sleeps == pytest.approx([0.5, 0.5])
    assert len(inner.calls) == 4


def test_rate_limit_is_shared_by_every_guard_of_a_provider(guarded, clock):
    first, second = guarded(Scripted(), rate=1.0, burst=1.0), guarded(Scripted(), rate=1.0,
                                                                      burst=1.0)
    first.capture("ps_1", 100, "k")
    second.capture("ps_1", 100, "k")  # another process's guard: same Redis bucket
    assert clock.sleeps == pytest.approx([1.0])


def test_rate_limit_beyond_the_budget_refuses_without_calling(guarded, clock):
    inner = Scripted()
    provider = guarded(inner, rate=0.01, burst=1.0, budget=5.0)
    provider.capture("ps_1", 100, "k")

    with pytest.raises(ProviderError) as caught:
        provider.capture("ps_1", 100, "k")

    assert caught.value.code == "rate_limited" and caught.value.executed is False
    assert len(inner.calls) == 1


# --- circuit breaker -------------------------------------------------------------------------

def test_breaker_opens_after_consecutive_failures_and_refuses_without_calling(guarded, clock):
    inner = Scripted(*[unavailable(executed=False) for _ in range(3)])
    provider = guarded(inner, attempts=1, threshold=3)
    for _ in range(3):
        with pytest.raises(ProviderError):
            provider.capture("ps_1", 100, "k")

    with pytest.raises(CircuitOpen) as caught:
        provider.capture("ps_1", 100, "k")

    assert caught.value.executed is False and caught.value.retryable is True
    assert len(inner.calls) == 3
    assert provider.breaker.state() == {"state": "open", "failures": 3}


def test_a_success_resets_the_count(guarded):
    inner = Scripted(unavailable(), unavailable(), "ok", unavailable(), unavailable(), "ok")
    provider = guarded(inner, attempts=1, threshold=3)
    for _ in range(6):
        try:
            provider.capture("ps_1", 100, "k")
        except ProviderError:
            pass
    assert provider.breaker.state()["state"] == "closed"


def test_a_call_on_a_healthy_provider_costs_one_redis_round_trip(guarded, monkeypatch):
    """Breaker and token bucket are asked in one script; a success on a breaker with no
    failure counted has nothing to reset, so nothing more is sent (checkout's hot path)."""
    provider = guarded(Scripted("ok", unavailable(), "ok", "ok"), attempts=1, threshold=3)
    sent = []
    real_eval = queues.connection.eval
    monkeypatch.setattr(queues.connection, "eval",
                        lambda script, *args: sent.append(args[0]) or real_eval(script, *args))
    assert provider.capture("ps_1", 100, "k") == "ok"
    assert sent == [2]  # one script over both keys: breaker and bucket
    with pytest.raises(ProviderError):
        provider.capture("ps_1", 100, "k")
    assert provider.breaker.state()["failures"] == 1
    sent.clear()
    assert provider.capture("ps_1", 100, "k") == "ok"
    assert len(sent) == 2  # admission, then the reset a counted failure needs
    assert provider.breaker.state()["failures"] == 0
    sent.clear()
    assert provider.capture("ps_1", 100, "k") == "ok"
    assert sent == [2]


def test_admission_takes_no_token_while_the_breaker_is_open(guarded, clock):
    provider = guarded(Scripted(unavailable()), attempts=1, threshold=1, rate=1.0, burst=1.0)
    with pytest.raises(ProviderError):
        provider.capture("ps_1", 100, "k")  # takes the only token, opens the breaker
    clock.now += 1.0  # a token again
    for _ in range(3):
        with pytest.raises(CircuitOpen):
            provider.capture("ps_1", 100, "k")
    assert provider.bucket.take() == 0.0  # the refused calls left it in the bucket


def test_answers_do_not_trip_the_breaker(guarded):
    declined = ProviderError("declined", code="card_declined", status=402, executed=True)
    in_progress = ProviderError("busy", code="idempotency_key_in_use", status=409,
                                retryable=True, executed=None)
    inner = Scripted(*([declined] * 4 + [in_progress] * 4))
    provider = guarded(inner, attempts=1, threshold=3)
    for _ in range(8):
        with pytest.raises(ProviderError):
            provider.capture("ps_1", 100, "k")
    assert provider.breaker.state()["state"] == "closed"


def test_half_open_probe_after_cooldown_closes_on_success(guarded, clock):
    inner = Scripted(*[unavailable() for _ in range(3)])
    provider = guarded(inner, attempts=1, threshold=3)
    for _ in range(3):
        with pytest.raises(ProviderError):
            provider.capture("ps_1", 100, "k")
    clock.now += 29
    with pytest.raises(CircuitOpen):
        provider.capture("ps_1", 100, "k")

    clock.now += 1  # cool-down over: one probe goes through
    assert provider.capture("ps_1", 100, "k") == "ok"

    assert provider.breaker.state()["state"] == "closed"
    assert provider.capture("ps_1", 100, "k") == "ok"


def test_failed_probe_opens_again_and_only_one_probe_at_a_time(guarded, clock):
    breaker = CircuitBreaker(queues.connection, "probe-test", threshold=1, cooldown=10,
                             clock=clock)
    assert breaker.record_failure() == "open"
    clock.now += 10
    assert breaker.allow() == "probe"
    assert breaker.allow() == "open"  # a second caller (any process) waits for the probe
    assert breaker.record_failure() == "open"
    clock.now += 5
    assert breaker.allow() == "open"  # a fresh cool-down started with the failed probe
    clock.now += 5
    assert breaker.allow() == "probe"
    breaker.record_success()
    assert breaker.allow() == "closed"


def test_breaker_opening_mid_retries_keeps_the_unknown_outcome(guarded):
    """A retry refused by the breaker raises the PSP's own error: it may have executed."""
    first = unavailable(executed=None)
    inner = Scripted(first, unavailable(executed=None))
    provider = guarded(inner, attempts=4, threshold=2)

    with pytest.raises(ProviderError) as caught:
        provider.capture("ps_1", 100, "k")

    assert not isinstance(caught.value, CircuitOpen)
    assert caught.value.executed is None
    assert len(inner.calls) == 2


def test_every_configured_adapter_is_guarded(app):
    provider = get_provider("sandbox")
    assert isinstance(provider, GuardedProvider)
    assert provider.inner.timeout <= app.config["PSP_TIMEOUT_SECONDS"]
    assert provider.breaker.provider == "sandbox"


def test_healthz_reports_each_providers_breaker(app, client):
    breaker = CircuitBreaker(queues.connection, "sandbox", threshold=1)
    breaker.record_failure()

    report = client.get("/healthz").get_json()

    assert report["providers"]["sandbox"] == {"state": "open", "failures": 1}
    assert report["status"] in ("ok", "degraded")  # an open breaker means failover, not down


def test_an_attempt_that_may_have_executed_is_not_forgotten_by_a_later_error(guarded):
    """A 5xx (may have executed) then "connection refused" (certainly not, this time): the key's
    history says "maybe", so the error raised must not say executed=False (issue 11 §1.1)."""
    refused = ProviderError("refused", code="unreachable", retryable=True, executed=False)
    inner = Scripted(unavailable(executed=None), refused)

    with pytest.raises(ProviderError) as caught:
        guarded(inner, attempts=2, with_breaker=False).capture("ps_1", 100, "k")

    assert caught.value.executed is None
