"""Stripe webhooks about a PaymentIntent reach the payment whose Checkout Session we stored:
the intent carries our reference in its metadata, and the session is re-fetched as the truth."""
from __future__ import annotations

import json
import time
import uuid

import pytest
from flask import current_app

from app.extensions import db
from app.models import Payment, WebhookEvent
from app.services import webhooks
from app.services.audit import Actor
from app.services.checkout import checkout, orders
from app.services.shop import cart
from tests.fakes.stripe import sign
from tests.fakes.stripe.controls import pay_session
from tests.fakes.stripe.wiring import stripe_on

ACTOR = Actor("buyer@test.example", "127.0.0.1")
API_KEY, WEBHOOK_SECRET = "sk_test_webhook_suite", "whsec_webhook_suite"


@pytest.fixture
def stripe_fake(app, tmp_path):
    """A fake Stripe the platform routes every payment to, for one test."""
    with stripe_on(app, API_KEY, WEBHOOK_SECRET, routing_dir=tmp_path) as fake:
        yield fake


def _started(people) -> Payment:
    cart.set_quantity(people["buyer"], people["mug"], 1)
    order_id = orders.place_order(people["buyer"], "EUR", ACTOR)
    with current_app.test_request_context(base_url=current_app.config["PUBLIC_URL"]):
        payment_id = checkout.start_payment(order_id, people["buyer"], "hosted", ACTOR).payment_id
    return db.session.get(Payment, payment_id)


def _deliver(event_type: str, obj: dict) -> int:
    event = {"id": f"evt_{uuid.uuid4().hex[:24]}", "object": "event", "type": event_type,
             "created": int(time.time()), "livemode": False, "data": {"object": obj}}
    raw = json.dumps(event).encode()
    receipt = webhooks.receive("stripe", raw, {
        "Stripe-Signature": sign(WEBHOOK_SECRET, raw, int(time.time()))})
    assert receipt.status == 200, receipt.body
    return db.session.query(WebhookEvent).filter_by(event_id=event["id"]).one().id


def test_a_payment_intent_event_settles_the_payment_of_its_session(app, people, stripe_fake):
    payment = _started(people)
    assert (payment.provider, payment.psp_reference[:3]) == ("stripe", "cs_")
    pay_session(stripe_fake, payment.psp_reference)
    intent = stripe_fake.objects[stripe_fake.objects[payment.psp_reference]["payment_intent"]]

    inbox_id = _deliver("payment_intent.amount_capturable_updated", intent)
    webhooks.process(inbox_id)

    db.session.expire_all()
    payment = db.session.get(Payment, payment.id)
    assert payment.status == "authorized"
    event = db.session.get(WebhookEvent, inbox_id)
    assert (event.object_id, event.status) == (intent["id"], "processed")


def test_a_payment_intent_of_someone_else_is_recorded_and_ignored(app, people, stripe_fake):
    payment = _started(people)
    pay_session(stripe_fake, payment.psp_reference)
    intent = dict(stripe_fake.objects[stripe_fake.objects[payment.psp_reference]["payment_intent"]])
    intent["id"], intent["metadata"] = "pi_not_ours", {"holdfast_reference": "hf_unknown"}

    inbox_id = _deliver("payment_intent.succeeded", intent)
    webhooks.process(inbox_id)

    db.session.expire_all()
    assert db.session.get(WebhookEvent, inbox_id).status == "ignored"
    assert db.session.get(Payment, payment.id).status == "processing"
