"""A buyer routed to Stripe pays on the fake Stripe's hosted Checkout page in Chromium: the
signed webhook reaches /webhooks/stripe, the live worker settles and captures through the
Stripe adapter, and the order shows paid."""
from __future__ import annotations

import os
import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import E2E_TMP
from tests.e2e.steps import (
    VISA,
    check_out,
    continue_to_payment,
    expect_paid,
    log_in,
    pay_with,
    wait_for,
)
from tests.fakes.stripe import FakeStripe
from tests.fakes.stripe.server import running

pytestmark = pytest.mark.e2e

API_KEY, WEBHOOK_SECRET = "sk_test_e2e_stripe", "whsec_e2e_stripe"
ROUTE_ALL_TO_STRIPE = """version = 1

[[rule]]
name = "e2e-stripe"
description = "Every payment goes to Stripe in this journey."
providers = ["stripe"]
"""


@pytest.fixture(scope="module", autouse=True)
def stripe_fake(stack):
    """The fake Stripe, delivering signed webhooks to the live platform; Stripe configured in
    the platform and (through the environment) in the worker this module starts; every payment
    routed to Stripe by the routing file."""
    app = stack["app"]
    routing = E2E_TMP / "routing-stripe.toml"
    routing.write_text(ROUTE_ALL_TO_STRIPE)
    fake = FakeStripe(api_key=API_KEY, webhook_url=f"{stack['url']}/webhooks/stripe",
                      webhook_secret=WEBHOOK_SECRET)
    with running(fake):
        settings = {"STRIPE_SECRET_KEY": API_KEY, "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
                    "STRIPE_API_BASE": fake.public_url, "STRIPE_CHECKOUT_URL": fake.public_url,
                    "ROUTING_FILE": str(routing)}
        saved_env = {name: os.environ.get(name) for name in settings}
        saved_config = {name: app.config.get(name) for name in settings}
        os.environ.update(settings)
        app.config.update(settings)
        _forget_stripe(app)
        try:
            yield fake
        finally:
            for name, value in saved_env.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            app.config.update(saved_config)
            _forget_stripe(app)


def _forget_stripe(app) -> None:
    # The registry remembers adapters and unconfigured names; the next call rebuilds.
    for cache in ("holdfast_providers", "holdfast_unconfigured"):
        app.extensions.get(cache, {}).pop("stripe", None)


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
