"""The provider contract, run over every harness (sandbox, Stripe fake, Braintree fake): the
same calls must mean the same thing at every PSP, whatever its wire format."""
from __future__ import annotations

import json
import uuid

import pytest

from app.domain.payment_states import PaymentStatus
from app.providers.base import (
    EventKind,
    InvalidSignature,
    ProviderError,
    ProviderTimeout,
)
from tests.flows import eventually

S = PaymentStatus


def key(action: str) -> str:
    return f"hf_{uuid.uuid4().hex}:{action}"


def test_authorize_leaves_an_uncaptured_authorization(harness):
    payment = harness.authorized_payment(2500, "EUR")
    provider = harness.provider()

    assert payment.status == S.AUTHORIZED
    assert (payment.amount, payment.currency) == (2500, "EUR")
    assert (payment.amount_authorized, payment.amount_captured) == (2500, 0)
    again = provider.retrieve(payment.reference)
    assert again.status == S.AUTHORIZED and again.reference == payment.reference


def test_capture_in_full_executes_once(harness):
    payment = harness.authorized_payment(2500, "EUR")
    capture_key = key("capture")

    captured = harness.provider().capture(payment.reference, 2500, capture_key)

    assert captured.status == S.CAPTURED and captured.amount_captured == 2500
    assert harness.provider().retrieve(payment.reference).status == S.CAPTURED
    assert harness.executions(capture_key) == 1


def test_partial_capture_where_supported(harness):
    if not harness.supports_partial_capture:
        pytest.skip(f"{harness.name} captures in full only")
    payment = harness.authorized_payment(5000, "EUR")

    captured = harness.provider().capture(payment.reference, 3000, key("capture"))

    assert captured.status == S.CAPTURED and captured.amount_captured == 3000
    # Braintree settles the transaction down to 3000; Stripe and the sandbox keep 5000.
    assert captured.amount_authorized in (3000, 5000)


def test_capture_beyond_the_authorization_is_refused_and_not_executed(harness):
    payment = harness.authorized_payment(1000, "EUR")

    with pytest.raises(ProviderError) as caught:
        harness.provider().capture(payment.reference, 1001, key("capture"))

    assert caught.value.retryable is False and caught.value.executed is not True
    assert harness.provider().retrieve(payment.reference).status == S.AUTHORIZED


def test_void_releases_the_authorization(harness):
    payment = harness.authorized_payment(2500, "EUR")

    voided = harness.provider().void(payment.reference, key("void"))

    assert voided.status == S.CANCELLED and voided.amount_captured == 0
    assert harness.provider().retrieve(payment.reference).status == S.CANCELLED


def test_refund_part_then_the_rest(harness):
    provider = harness.provider()
    payment = harness.authorized_payment(4000, "EUR")
    provider.capture(payment.reference, 4000, key("capture"))

    first = provider.refund(payment.reference, 1500, key("refund"), {"reason": "contract"})

    assert first.amount == 1500 and first.currency == "EUR"
    assert first.payment_reference == payment.reference
    assert first.status in ("pending", "succeeded")
    assert provider.retrieve_refund(first.reference).amount == 1500
    rest = provider.refund(payment.reference, 2500, key("refund"))
    assert rest.amount == 2500
    assert provider.retrieve(payment.reference).amount_refunded == 4000


def test_refund_beyond_what_was_captured_is_refused(harness):
    provider = harness.provider()
    payment = harness.authorized_payment(1000, "EUR")
    provider.capture(payment.reference, 1000, key("capture"))

    with pytest.raises(ProviderError) as caught:
        provider.refund(payment.reference, 1001, key("refund"))

    assert caught.value.executed is False and caught.value.retryable is False


@pytest.mark.parametrize("fault", ["5xx_after", "timeout_after"])
def test_retry_after_a_lost_response_executes_once(harness, fault):
    """The PSP acted, the answer was lost: the same key again gets the result, not a 2nd charge."""
    provider = harness.provider()
    payment = harness.authorized_payment(2500, "EUR")
    capture_key = key("capture")
    harness.fail_next(fault)
    calling = harness.impatient_provider() if fault == "timeout_after" else provider

    with pytest.raises(ProviderError) as caught:
        calling.capture(payment.reference, 2500, capture_key)
    assert caught.value.executed is not False and caught.value.retryable is True
    if fault == "timeout_after":
        assert isinstance(caught.value, ProviderTimeout)
        # The adapter gave up first; on a loaded machine the PSP may still be executing the
        # call. The contract is about a retry after the PSP acted: wait until it has.
        eventually(lambda: harness.executions(capture_key) == 1
                   and provider.retrieve(payment.reference).status == S.CAPTURED)

    try:
        retried = provider.capture(payment.reference, 2500, capture_key)
    except ProviderError as again:
        # Stripe saves the first answer even when it is a 500 and replays it: the retry
        # learns nothing, and never claims that nothing happened. Re-fetching settles it.
        assert again.executed is not False
    else:
        assert retried.status == S.CAPTURED and retried.amount_captured == 2500

    settled = provider.retrieve(payment.reference)
    assert settled.status == S.CAPTURED and settled.amount_captured == 2500
    assert harness.executions(capture_key) == 1


@pytest.mark.parametrize("fault", ["5xx_before", "409", "429"])
def test_a_refused_attempt_is_retryable_and_executes_once_when_retried(harness, fault):
    provider = harness.provider()
    payment = harness.authorized_payment(2500, "EUR")
    capture_key = key("capture")
    harness.fail_next(fault)

    with pytest.raises(ProviderError) as caught:
        provider.capture(payment.reference, 2500, capture_key)
    assert caught.value.retryable is True and caught.value.executed is not True
    if fault == "429":
        assert caught.value.executed is False  # a rate limit never acts

    assert provider.capture(payment.reference, 2500, capture_key).status == S.CAPTURED
    assert harness.executions(capture_key) == 1


def assert_stored_event_matches(provider, event) -> None:
    """The worker's view of the stored event (the inbox keeps the body JSON, or {} for a form)
    has the kind and references the receipt saw: dispatch never reads a PSP's payload."""
    stored = event.inbox_body or json.dumps(event.payload)
    again = provider.stored_event(event.event_id, event.type, event.object_id, json.loads(stored))
    assert (again.kind, again.object_id, again.our_reference) == (
        event.kind, event.object_id, event.our_reference)


def test_dispute_opens_arrives_as_a_dispute_event_and_closes(harness):
    provider = harness.provider()
    payment = harness.authorized_payment(3000, "EUR")
    provider.capture(payment.reference, 3000, key("capture"))

    dispute_id = harness.open_dispute(payment.reference)
    body, headers = harness.signed_webhook("dispute.created", dispute_id)
    event = provider.parse_webhook(body, headers)

    assert provider.event_kind(event.type) == event.kind == EventKind.DISPUTE
    assert event.object_id == dispute_id
    assert_stored_event_matches(provider, event)
    dispute = provider.retrieve_dispute(dispute_id)
    assert dispute.reference == dispute_id
    assert dispute.status == "needs_response" and dispute.amount == 3000
    assert dispute.currency == "EUR" and dispute.fee_amount >= 0

    harness.close_dispute(dispute_id, "won")

    assert provider.retrieve_dispute(dispute_id).status == "won"


def test_signed_webhook_verifies_and_a_tampered_one_is_refused(harness):
    provider = harness.provider()
    payment = harness.authorized_payment(2500, "EUR")
    provider.capture(payment.reference, 2500, key("capture"))
    body, headers = harness.signed_webhook("payment.captured", payment.reference)

    event = provider.parse_webhook(body, headers)
    assert event.event_id and event.type
    assert provider.event_kind(event.type) == event.kind
    assert event.kind in (EventKind.PAYMENT, EventKind.OTHER)
    assert_stored_event_matches(provider, event)

    tampered = body[:-2] + (b"0" if body[-2:-1] != b"0" else b"1") + body[-1:]
    with pytest.raises(InvalidSignature):
        provider.parse_webhook(tampered, headers)


def test_session_for_the_buyer_has_where_to_send_them(harness):
    from app.providers.base import SessionRequest

    reference = f"hf_{uuid.uuid4().hex}"
    mode = "hosted" if harness.supports_hosted else "embedded"
    created = harness.provider().create_session(SessionRequest(
        reference=reference, amount=1200, currency="EUR", mode=mode,
        return_url="http://127.0.0.1/return", cancel_url="http://127.0.0.1/cancel",
        parent_origin="http://127.0.0.1", idempotency_key=reference))

    assert (created.amount, created.currency) == (1200, "EUR")
    assert created.status in (S.PROCESSING, S.INITIATED)
    if mode == "hosted":  # (Braintree's Drop-in has no PSP object before the nonce)
        assert created.reference and created.redirect_url
