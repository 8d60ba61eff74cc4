"""A buyer routed to Stripe pays on the fake Stripe's hosted Checkout page in Chromium: the
signed webhook reaches /webhooks/stripe, the live worker settles and captures through the
Stripe adapter, and the order shows paid."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.psp_fakes import routing_to, stripe_in_force
from tests.e2e.steps import (
    VISA,
    check_out,
    continue_to_payment,
    expect_paid,
    log_in,
    pay_with,
    wait_for,
)

pytestmark = pytest.mark.e2e

API_KEY, WEBHOOK_SECRET = "sk_test_e2e_stripe", "whsec_e2e_stripe"


@pytest.fixture(scope="module", autouse=True)
def stripe_fake(stack):
    """The fake Stripe for this module, every payment routed to it by a one-rule file."""
    with stripe_in_force(stack, routing_to("stripe", "e2e-stripe"), api_key=API_KEY,
                         webhook_secret=WEBHOOK_SECRET) as fake:
        yield fake


def test_buyer_pays_on_stripe_hosted_page_and_the_order_is_paid(page, shop, stack, journey,
                                                                 stripe_fake):
    from app.extensions import db
    from app.models import Order, WebhookEvent
    from tests.flows import latest_payment

    log_in(page)
    order_id = check_out(page, "Mug", "Candle")
    continue_to_payment(page, "Hosted payment page")
    expect(page).to_have_url(re.compile(re.escape(stripe_fake.public_url) + r"/c/pay/cs_test_"))
    pay_with(page, VISA, journey)
    expect_paid(page, order_id)

    payment = wait_for(lambda: latest_payment(order_id), lambda p: p.status == "captured")
    assert (payment.provider, payment.status) == ("stripe", "captured")
    assert payment.psp_reference.startswith("cs_test_")
    assert payment.amount == payment.amount_captured == 2400 + 1690
    assert (payment.card_brand, payment.card_last4) == ("visa", "4242")
    assert db.session.get(Order, order_id).status == "paid"

    # Stripe's side: one session paid by our reference, its PaymentIntent captured once.
    session = stripe_fake.objects[payment.psp_reference]
    assert session["client_reference_id"] == payment.idempotency_key
    intent = stripe_fake.objects[session["payment_intent"]]
    assert (intent["status"], intent["amount_received"]) == ("succeeded", 4090)
    captures = [c for c in stripe_fake.calls if c[1].endswith("/capture")]
    assert len({c[2] for c in captures}) == 1 and all(c[2] for c in captures)

    # The signed webhook went in through /webhooks/stripe and the worker processed it.
    completed = stripe_fake.events_of("checkout.session.completed")[0]
    assert (completed["id"], 200) in stripe_fake.deliveries
    inbox = wait_for(lambda: db.session.query(WebhookEvent).filter_by(
        provider="stripe", event_id=completed["id"]).one(), lambda e: e.status == "processed")
    assert (inbox.object_id, inbox.status) == (payment.psp_reference, "processed")
    # Let the capture's own events land before the tables are emptied for the next test.
    wait_for(lambda: len({e for e, status in stripe_fake.deliveries if status == 200}),
             lambda n: n >= len(stripe_fake.events))
