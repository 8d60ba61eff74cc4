"""The fake Stripe itself: wire format, idempotency rules, hosted page, signed deliveries."""
from __future__ import annotations

import json
import threading

import pytest
import requests
import stripe
from werkzeug.wrappers import Request, Response

from tests.fakes.stripe import FakeStripe
from tests.fakes.stripe.forms import decode
from tests.fakes.stripe.server import running
from tests.fakes.stripe.state import IdempotencyRecord
from tests.providers.stripe.conftest import (
    API_KEY,
    WEBHOOK_SECRET,
    key,
    session_request,
)

AUTH = {"Authorization": f"Bearer {API_KEY}"}


def test_bracket_keys_decode_to_nested_params():
    params = decode([("line_items[0][price_data][unit_amount]", "1999"),
                     ("line_items[0][quantity]", "2"), ("line_items[1][quantity]", "1"),
                     ("expand[]", "payment_intent"), ("expand[]", "latest_charge"),
                     ("metadata[order]", "7"), ("mode", "payment")])
    assert params == {"line_items": [{"price_data": {"unit_amount": "1999"}, "quantity": "2"},
                                     {"quantity": "1"}],
                      "expand": ["payment_intent", "latest_charge"],
                      "metadata": {"order": "7"}, "mode": "payment"}


def test_missing_or_wrong_api_key_is_401(fake):
    answer = requests.get(f"{fake.public_url}/v1/checkout/sessions", timeout=5)
    assert answer.status_code == 401
    assert answer.json()["error"]["type"] == "invalid_request_error"


def test_a_request_racing_another_with_its_key_gets_409_and_saves_nothing(fake):
    fake.idempotency["racing"] = IdempotencyRecord(params={"amount": "1"})  # in flight
    answer = requests.post(f"{fake.public_url}/v1/refunds", data={"amount": "1"},
                           headers={**AUTH, "Idempotency-Key": "racing"}, timeout=5)
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "idempotency_key_in_use"
    assert fake.executions("racing") == 0 and fake.of_kind("refund") == []


def test_a_saved_answer_is_replayed_with_the_replay_header(fake, stripe_provider):
    request = session_request()
    stripe_provider.create_session(request)
    params = {"mode": "payment", "client_reference_id": request.reference,
              "line_items[0][quantity]": "1",
              "line_items[0][price_data][currency]": "eur",
              "line_items[0][price_data][unit_amount]": str(request.amount),
              "line_items[0][price_data][product_data][name]":
                  f"Holdfast order payment {request.reference}",
              "payment_intent_data[capture_method]": "manual",
              "payment_intent_data[metadata][holdfast_reference]": request.reference,
              "metadata[holdfast_reference]": request.reference,
              "success_url": request.return_url, "cancel_url": request.cancel_url}
    answer = requests.post(f"{fake.public_url}/v1/checkout/sessions", data=params,
                           headers={**AUTH, "Idempotency-Key": request.idempotency_key},
                           timeout=5)
    assert answer.status_code == 200 and answer.headers["Idempotent-Replayed"] == "true"
    assert fake.executions(request.idempotency_key) == 1


def test_a_fault_meant_for_a_get_fails_the_read_only(fake, stripe_provider):
    started = stripe_provider.create_session(session_request())
    fake.fail_next("5xx_before", method="GET")
    with pytest.raises(Exception) as failed:
        stripe_provider.retrieve(started.reference)
    assert (failed.value.executed, failed.value.retryable) == (None, True)
    assert stripe_provider.retrieve(started.reference).reference == started.reference


def test_hosted_page_luhn_decline_then_success_redirects_to_success_url(fake,
                                                                       stripe_provider):
    started = stripe_provider.create_session(session_request(amount=4090))
    page = requests.get(started.redirect_url, timeout=5)
    assert page.status_code == 200 and "40.90 EUR" in page.text
    form = {"number": "4242 4242 4242 4241", "expiry": "12/30", "cvc": "123", "name": "A"}
    bad = requests.post(started.redirect_url, data=form, allow_redirects=False, timeout=5)
    assert bad.status_code == 402 and "card number is incorrect" in bad.text
    declined = requests.post(started.redirect_url, data={**form, "number": "4000000000009995"},
                             allow_redirects=False, timeout=5)
    assert declined.status_code == 402 and "insufficient funds" in declined.text
    paid = requests.post(started.redirect_url, data={**form, "number": "4242424242424242"},
                         allow_redirects=False, timeout=5)
    assert paid.status_code == 303
    assert paid.headers["Location"] == "http://127.0.0.1:9/checkout/1/return"
    after = requests.get(started.redirect_url, timeout=5)
    assert "This checkout session is complete." in after.text and "<form" not in after.text


def test_events_are_delivered_signed_and_verify_with_the_sdk():
    received, arrived = [], threading.Event()

    def receiver(environ, start_response):
        request = Request(environ)
        received.append((request.get_data(), request.headers.get("Stripe-Signature")))
        arrived.set()
        return Response("{}", 200)(environ, start_response)

    from tests.conftest import serve

    server, url = serve(receiver)
    try:
        fake = FakeStripe(api_key=API_KEY, webhook_url=url, webhook_secret=WEBHOOK_SECRET)
        with running(fake):
            event = fake.emit("checkout.session.completed", {"id": "cs_x",
                                                             "object": "checkout.session"})
            assert arrived.wait(30)  # returns on arrival; 30 s only bounds a hang
    finally:
        server.shutdown()
    raw, header = received[0]
    verified = stripe.Webhook.construct_event(raw.decode(), header, WEBHOOK_SECRET)
    assert verified.id == event["id"] and json.loads(raw)["data"]["object"]["id"] == "cs_x"
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(raw.decode(), header, "whsec_other")


def test_partial_capture_leaves_the_rest_refunded_on_the_charge_as_stripe_does(fake,
                                                                             stripe_provider):
    from tests.fakes.stripe.controls import pay_session

    started = stripe_provider.create_session(session_request(amount=1000))
    pay_session(fake, started.reference)
    stripe_provider.capture(started.reference, 600, key())
    intent = fake.objects[fake.objects[started.reference]["payment_intent"]]
    charge = fake.objects[intent["latest_charge"]]
    assert (charge["amount_captured"], charge["amount_refunded"], intent["amount_received"]) \
        == (600, 400, 600)


def test_a_500_after_executing_is_saved_and_replayed_for_the_key(fake, stripe_provider):
    from tests.fakes.stripe.controls import pay_session

    started = stripe_provider.create_session(session_request(amount=1000))
    pay_session(fake, started.reference)
    intent_id = fake.objects[started.reference]["payment_intent"]
    fake.fail_next("5xx_after")
    url = f"{fake.public_url}/v1/payment_intents/{intent_id}/capture"
    answers = [requests.post(url, data={"amount_to_capture": "1000"},
                             headers={**AUTH, "Idempotency-Key": "cap"}, timeout=5)
               for _ in range(2)]
    assert [a.status_code for a in answers] == [500, 500]
    assert answers[1].headers["Idempotent-Replayed"] == "true"
    assert fake.executions("cap") == 1 and fake.objects[intent_id]["status"] == "succeeded"


def test_three_d_secure_card_is_challenged_then_passes_or_fails(fake, stripe_provider):
    from app.domain.payment_states import PaymentStatus as S

    started = stripe_provider.create_session(session_request())
    form = {"number": "4000 0027 6000 3184", "expiry": "12/30", "cvc": "123", "name": "A"}
    challenge = requests.post(started.redirect_url, data=form, timeout=5)
    assert "Complete authentication" in challenge.text
    assert stripe_provider.retrieve(started.reference).status == S.REQUIRES_ACTION
    failed = requests.post(f"{started.redirect_url}/3ds", data={"outcome": "fail"},
                           allow_redirects=False, timeout=5)
    assert failed.status_code == 402 and "unable to authenticate" in failed.text
    report = stripe_provider.retrieve(started.reference)
    assert (report.status, report.decline_code) == (S.DECLINED, "authentication_failed")
    requests.post(started.redirect_url, data=form, timeout=5)
    passed = requests.post(f"{started.redirect_url}/3ds", data={"outcome": "pass"},
                           allow_redirects=False, timeout=5)
    assert passed.status_code == 303
    assert stripe_provider.retrieve(started.reference).status == S.AUTHORIZED
