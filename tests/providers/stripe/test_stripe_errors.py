"""Stripe's failures become ProviderError with the right `executed` and `retryable`, and a
retry with the same key never makes Stripe act twice."""
from __future__ import annotations

import socket

import pytest
import stripe

from app.providers.base import ProviderError, ProviderTimeout
from app.providers.stripe import StripeProvider
from app.providers.stripe.errors import translate
from tests.fakes.stripe.controls import pay_session
from tests.flows import eventually
from tests.providers.stripe.conftest import CLIENT_TIMEOUT, key, session_request


def _refund_ready(provider, fake) -> str:
    started = provider.create_session(session_request(amount=3000))
    pay_session(fake, started.reference)
    provider.capture(started.reference, 3000, key())
    return started.reference


def _refunds(fake) -> int:
    return len(fake.of_kind("refund"))


def test_5xx_before_executing_then_a_retry_refunds_once(stripe_provider, fake):
    reference, retry_key = _refund_ready(stripe_provider, fake), key()
    fake.fail_next("5xx_before")
    with pytest.raises(ProviderError) as failed:
        stripe_provider.refund(reference, 1000, retry_key)
    # From outside a 500 cannot tell "before" from "after": the outcome is unknown.
    assert (failed.value.executed, failed.value.retryable, failed.value.status) == (
        None, True, 500)
    assert fake.executions(retry_key) == 0
    assert stripe_provider.refund(reference, 1000, retry_key).amount == 1000
    assert (fake.executions(retry_key), _refunds(fake)) == (1, 1)


def test_5xx_after_executing_a_refund_is_found_by_its_key_on_retry(stripe_provider, fake):
    reference, retry_key = _refund_ready(stripe_provider, fake), key()
    fake.fail_next("5xx_after")
    with pytest.raises(ProviderError) as failed:
        stripe_provider.refund(reference, 1000, retry_key)
    assert (failed.value.executed, failed.value.retryable) == (None, True)
    # Stripe would replay the saved 500 for this key: the adapter finds the refund instead.
    again = stripe_provider.refund(reference, 1000, retry_key)
    assert again.amount == 1000 and again.status == "succeeded"
    assert (fake.executions(retry_key), _refunds(fake)) == (1, 1)
    assert [c[2] for c in fake.calls if c[:2] == ("POST", "/v1/refunds")] == [retry_key]
    with pytest.raises(ProviderError) as reused:
        stripe_provider.refund(reference, 999, retry_key)
    assert (reused.value.code, reused.value.executed) == ("idempotency_error", None)


def test_5xx_after_executing_a_capture_is_read_from_the_payment_on_retry(stripe_provider,
                                                                        fake):
    started = stripe_provider.create_session(session_request(amount=3000))
    pay_session(fake, started.reference)
    capture_key = key()
    fake.fail_next("5xx_after")
    with pytest.raises(ProviderError):
        stripe_provider.capture(started.reference, 3000, capture_key)
    assert stripe_provider.capture(started.reference, 3000, capture_key).amount_captured == 3000
    assert fake.executions(capture_key) == 1
    assert len([c for c in fake.calls if c[1].endswith("/capture")]) == 1


def test_timeout_after_executing_then_the_retry_gets_the_saved_answer(stripe_provider, fake,
                                                                      impatient_provider):
    reference, retry_key = _refund_ready(stripe_provider, fake), key()
    fake.fail_next("timeout_after")
    with pytest.raises(ProviderTimeout) as timed_out:
        impatient_provider.refund(reference, 1000, retry_key)
    assert (timed_out.value.executed, timed_out.value.retryable) == (None, True)
    # Retry once the fake has acted and saved its answer (under load it may not have yet).
    eventually(lambda: fake.executions(retry_key) == 1)
    again = stripe_provider.refund(reference, 1000, retry_key)
    assert again.amount == 1000
    assert (fake.executions(retry_key), _refunds(fake)) == (1, 1)


def test_409_conflict_and_429_rate_limit_are_retryable(stripe_provider, fake):
    reference, retry_key = _refund_ready(stripe_provider, fake), key()
    fake.fail_next("409")
    with pytest.raises(ProviderError) as conflict:
        stripe_provider.refund(reference, 1000, retry_key)
    assert (conflict.value.status, conflict.value.retryable, conflict.value.executed) == (
        409, True, None)
    fake.fail_next("429")
    with pytest.raises(ProviderError) as limited:
        stripe_provider.refund(reference, 1000, retry_key)
    assert (limited.value.code, limited.value.retryable, limited.value.executed) == (
        "rate_limited", True, False)
    stripe_provider.refund(reference, 1000, retry_key)
    assert (fake.executions(retry_key), _refunds(fake)) == (1, 1)


def test_same_key_with_other_parameters_is_an_idempotency_error(stripe_provider, fake):
    started = stripe_provider.create_session(session_request(amount=3000))
    pay_session(fake, started.reference)
    capture_key = key()
    stripe_provider.capture(started.reference, 2000, capture_key)
    with pytest.raises(ProviderError) as mismatch:
        stripe_provider.capture(started.reference, 1999, capture_key)
    assert (mismatch.value.code, mismatch.value.retryable, mismatch.value.executed,
            mismatch.value.status) == ("idempotency_error", False, None, 400)
    assert fake.executions(capture_key) == 1


def test_validation_errors_save_nothing_so_a_corrected_state_can_reuse_the_key(
        stripe_provider, fake):
    started = stripe_provider.create_session(session_request())
    retry_key = key()
    with pytest.raises(ProviderError):
        stripe_provider.void(fake_intent(fake, started.reference), retry_key)
    assert fake.executions(retry_key) == 0


def fake_intent(fake, session_id: str) -> str:
    pay_session(fake, session_id, "4000000000000002")  # declined: intent exists, not capturable
    intent = fake.objects[fake.objects[session_id]["payment_intent"]]
    intent["status"] = "succeeded"  # a state Stripe refuses to cancel from
    return intent["id"]


def test_unknown_id_and_bad_key_are_not_executed(stripe_provider, fake):
    with pytest.raises(ProviderError) as unknown:
        stripe_provider.retrieve("cs_test_does_not_exist")
    assert (unknown.value.code, unknown.value.status, unknown.value.executed,
            unknown.value.retryable) == ("resource_missing", 404, False, False)
    wrong = StripeProvider("sk_test_wrong", [], api_base=fake.public_url,
                           timeout=CLIENT_TIMEOUT)
    with pytest.raises(ProviderError) as denied:
        wrong.create_session(session_request())
    assert (denied.value.status, denied.value.executed) == (401, False)
    assert fake.of_kind("checkout.session") == []


def test_connection_refused_is_certainly_not_executed():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    provider = StripeProvider("sk_test_x", [], api_base=f"http://127.0.0.1:{port}", timeout=1.0)
    with pytest.raises(ProviderError) as refused:
        provider.create_session(session_request())
    assert (refused.value.executed, refused.value.retryable) == (False, True)


def test_card_error_is_executed_with_its_decline_code():
    body = {"error": {"type": "card_error", "code": "card_declined",
                      "decline_code": "insufficient_funds", "message": "declined"}}
    exc = stripe.CardError("declined", None, "card_declined", http_body="{}",
                           http_status=402, json_body=body)
    error = translate(exc)
    assert (error.executed, error.retryable, error.decline_code, error.status) == (
        True, False, "insufficient_funds", 402)


def test_stripes_request_id_is_kept_for_the_call_log():
    failed = translate(stripe.APIError("boom", http_status=502, headers={"request-id": "req_9"}))
    assert (failed.request_id, failed.status, failed.retryable) == ("req_9", 502, True)
    assert translate(stripe.APIConnectionError("Connection refused")).request_id is None
