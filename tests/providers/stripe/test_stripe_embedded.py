"""Embedded mode: a PaymentIntent for the Payment Element, confirmed in the browser, then
captured, voided, refunded and found through the same adapter, against the fake Stripe."""
from __future__ import annotations

import json
import time

import pytest

from app.domain.payment_states import PaymentStatus as S
from app.providers.base import ProviderError
from app.providers.stripe import mapping
from tests.fakes.stripe import sign
from tests.fakes.stripe.controls import close, confirm_element, dispute
from tests.providers.stripe.conftest import WEBHOOK_SECRET, key, session_request

VISA, DECLINED, THREE_D_SECURE = "4242424242424242", "4000000000000002", "4000002760003184"


def _embedded(provider, amount=2500, **kwargs):
    return provider.create_session(session_request(amount=amount, mode="embedded", **kwargs))


def test_embedded_session_is_a_manual_capture_payment_intent_with_our_reference(
        stripe_provider, fake):
    request = session_request(amount=1999, currency="EUR", mode="embedded")
    started = stripe_provider.create_session(request)
    assert started.reference.startswith("pi_") and started.status == S.PROCESSING
    assert (started.amount, started.currency) == (1999, "EUR")
    assert started.redirect_url is None and started.embed_url is None
    intent = fake.objects[started.reference]
    assert (intent["amount"], intent["currency"], intent["capture_method"]) == (
        1999, "eur", "manual")
    assert intent["metadata"] == {"holdfast_reference": request.reference}
    assert fake.calls[-1] == ("POST", "/v1/payment_intents", request.idempotency_key)
    # The page needs the client secret; a log line or an error report must never show it.
    assert started.client_secret == intent["client_secret"]
    assert started.client_secret not in repr(started)
    assert fake.of_kind("checkout.session") == []


def test_embedded_create_retried_with_the_same_key_creates_one_intent(stripe_provider, fake):
    request = session_request(mode="embedded")
    first = stripe_provider.create_session(request)
    again = stripe_provider.create_session(request)
    assert first.reference == again.reference
    assert fake.executions(request.idempotency_key) == 1
    assert len(fake.of_kind("payment_intent")) == 1


def test_an_intent_whose_answer_was_lost_is_found_by_our_reference(stripe_provider, fake):
    request = session_request(mode="embedded")
    fake.fail_next("5xx_after")  # created, then the answer is lost
    with pytest.raises(ProviderError) as lost:
        stripe_provider.create_session(request)
    assert lost.value.executed is not False  # maybe executed: never try another PSP
    found = stripe_provider.find_by_reference(request.reference)
    [intent] = fake.of_kind("payment_intent")
    assert found is not None and found.reference == intent["id"]
    assert fake.executions(request.idempotency_key) == 1


def test_a_saved_card_request_asks_stripe_to_keep_the_card(stripe_provider, fake):
    request = session_request(mode="embedded")
    request = type(request)(**{**request.__dict__, "save_payment_method": True})
    started = stripe_provider.create_session(request)
    assert fake.objects[started.reference]["setup_future_usage"] == "off_session"


def test_unknown_mode_is_refused_before_calling_stripe(stripe_provider, fake):
    with pytest.raises(ProviderError) as refused:
        stripe_provider.create_session(session_request(mode="popup"))
    assert (refused.value.code, refused.value.executed) == ("mode_unsupported", False)
    assert fake.calls == []


def test_confirmed_in_the_element_then_partially_captured_and_refunded(stripe_provider, fake):
    reference = _embedded(stripe_provider, amount=3000).reference
    answer = confirm_element(fake, reference, VISA, "http://127.0.0.1:9/checkout/1/return")
    assert answer["redirect"].startswith("http://127.0.0.1:9/checkout/1/return?payment_intent=")
    authorized = stripe_provider.retrieve(reference)
    assert (authorized.reference, authorized.status, authorized.amount_authorized) == (
        reference, S.AUTHORIZED, 3000)
    assert (authorized.card.brand, authorized.card.last4) == ("visa", "4242")
    captured = stripe_provider.capture(reference, 2000, key())
    assert (captured.status, captured.amount_captured, captured.reference) == (
        S.CAPTURED, 2000, reference)
    refund = stripe_provider.refund(reference, 500, key())
    assert (refund.status, refund.payment_reference) == ("succeeded", reference)
    assert stripe_provider.retrieve_refund(refund.reference).payment_reference == reference
    assert stripe_provider.retrieve(reference).status == S.PARTIALLY_REFUNDED


def test_a_decline_is_reported_and_another_card_pays_the_same_intent(stripe_provider, fake):
    reference = _embedded(stripe_provider).reference
    answer = confirm_element(fake, reference, DECLINED)
    assert answer["error"]["message"] == "Your card was declined."
    declined = stripe_provider.retrieve(reference)
    assert (declined.status, declined.decline_code) == (S.DECLINED, "generic_decline")
    assert declined.failure_message
    assert "redirect" in confirm_element(fake, reference, VISA)
    assert stripe_provider.retrieve(reference).status == S.AUTHORIZED


def test_three_d_secure_waits_for_the_buyer_then_authorizes_or_fails(stripe_provider, fake):
    pending = _embedded(stripe_provider).reference
    answer = confirm_element(fake, pending, THREE_D_SECURE, challenge_passed=None)
    assert answer["redirect"] == f"{fake.public_url}/elements/3ds/{pending}"
    assert stripe_provider.retrieve(pending).status == S.REQUIRES_ACTION
    failed = _embedded(stripe_provider).reference
    confirm_element(fake, failed, THREE_D_SECURE, challenge_passed=False)
    report = stripe_provider.retrieve(failed)
    assert (report.status, report.decline_code) == (S.DECLINED, "authentication_failed")
    passed = _embedded(stripe_provider).reference
    confirm_element(fake, passed, THREE_D_SECURE, challenge_passed=True)
    assert stripe_provider.retrieve(passed).status == S.AUTHORIZED


def test_cancel_ends_an_unpaid_intent_but_never_voids_an_authorization(stripe_provider, fake):
    unpaid = _embedded(stripe_provider).reference
    assert stripe_provider.cancel(unpaid, key()).status == S.EXPIRED
    assert fake.objects[unpaid]["cancellation_reason"] == "abandoned"
    paid = _embedded(stripe_provider).reference
    confirm_element(fake, paid, VISA)
    assert stripe_provider.cancel(paid, key()).status == S.AUTHORIZED
    assert fake.objects[paid]["status"] == "requires_capture"
    assert stripe_provider.void(paid, key()).status == S.CANCELLED


def test_find_by_reference_finds_the_embedded_intent(stripe_provider, fake):
    request = session_request(mode="embedded")
    _embedded(stripe_provider)  # someone else's
    started = stripe_provider.create_session(request)
    found = stripe_provider.find_by_reference(request.reference)
    assert found is not None and found.reference == started.reference
    assert stripe_provider.find_by_reference("hf_never_created") is None


def test_a_dispute_on_an_embedded_payment_names_the_intent(stripe_provider, fake):
    reference = _embedded(stripe_provider).reference
    confirm_element(fake, reference, VISA)
    stripe_provider.capture(reference, 2500, key())
    opened = stripe_provider.retrieve_dispute(dispute(fake, reference))
    assert (opened.payment_reference, opened.status) == (reference, "needs_response")
    close(fake, opened.reference, "lost")
    assert stripe_provider.retrieve_dispute(opened.reference).status == "lost"


def test_the_intents_webhooks_verify_and_carry_our_reference(stripe_provider, fake):
    request = session_request(mode="embedded")
    reference = stripe_provider.create_session(request).reference
    confirm_element(fake, reference, VISA)
    [event] = fake.events_of("payment_intent.amount_capturable_updated")
    raw = json.dumps(event).encode()
    parsed = stripe_provider.parse_webhook(raw, {"Stripe-Signature": sign(
        WEBHOOK_SECRET, raw, int(time.time()))})
    assert (parsed.type, parsed.object_id) == (event["type"], reference)
    assert stripe_provider.event_kind(parsed.type) == parsed.kind == "payment"
    assert parsed.our_reference == request.reference
    # The worker reads the same references back from what the inbox stored.
    again = stripe_provider.stored_event(parsed.event_id, parsed.type, parsed.object_id,
                                         parsed.payload)
    assert (again.kind, again.our_reference) == (parsed.kind, parsed.our_reference)
    # Stripe's PaymentIntent events carry the client secret: the inbox must not keep it.
    secret = fake.objects[reference]["client_secret"]
    assert secret in raw.decode() and "client_secret" not in parsed.payload["data"]["object"]
    assert parsed.inbox_body and secret not in parsed.inbox_body
    assert json.loads(parsed.inbox_body)["data"]["object"]["id"] == reference
    [charge_event] = fake.events_of("charge.succeeded")
    raw = json.dumps(charge_event).encode()
    plain = stripe_provider.parse_webhook(raw, {"Stripe-Signature": sign(
        WEBHOOK_SECRET, raw, int(time.time()))})
    assert plain.inbox_body is None  # nothing secret: the raw body is stored as signed


def test_only_an_intent_on_its_own_hands_out_its_client_secret():
    intent = {"id": "pi_1", "object": "payment_intent", "amount": 1000, "currency": "eur",
              "status": "requires_payment_method", "client_secret": "pi_1_secret_abc"}
    alone = mapping.to_provider_payment(None, intent)
    assert (alone.reference, alone.client_secret, alone.status) == (
        "pi_1", "pi_1_secret_abc", S.PROCESSING)
    assert "secret" not in repr(alone)
    session = {"id": "cs_1", "object": "checkout.session", "status": "open",
               "amount_total": 1000, "currency": "eur", "url": "https://x/c/pay/cs_1"}
    assert mapping.to_provider_payment(session, intent).client_secret is None
    unknown = mapping.to_provider_payment(None, {**intent, "status": "requires_magic"})
    assert unknown.status is None  # never success


def test_three_d_secure_on_request_challenges_an_ordinary_card_in_the_element(stripe_provider,
                                                                              fake):
    from dataclasses import replace

    started = stripe_provider.create_session(replace(
        session_request(mode="embedded"), request_three_d_secure=True))
    assert fake.objects[started.reference]["status"] == "requires_payment_method"
    answer = confirm_element(fake, started.reference, VISA, challenge_passed=None)
    assert "/elements/3ds/" in answer["redirect"]
    assert stripe_provider.retrieve(started.reference).status == S.REQUIRES_ACTION
