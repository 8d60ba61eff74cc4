"""A buyer routed to Stripe pays in the Payment Element in Chromium: our page loads the fake's
stand-in for stripe.js from the fake's origin, which mounts the card form in an iframe on that
origin; a declined card is explained on the page, then a Visa pays. The signed
payment_intent.* webhooks reach /webhooks/stripe, the live worker captures through the adapter,
and the card never reaches the platform."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.psp_fakes import routing_to, stripe_in_force
from tests.e2e.steps import (
    EXPIRY,
    check_out,
    continue_to_payment,
    expect_paid,
    log_in,
    wait_for,
)

pytestmark = pytest.mark.e2e

API_KEY, PUBLISHABLE_KEY = "sk_test_e2e_element", "pk_test_e2e_element"
WEBHOOK_SECRET = "whsec_e2e_element"
VISA, DECLINED = "4242 4242 4242 4242", "4000 0000 0000 0002"


@pytest.fixture(scope="module", autouse=True)
def stripe_fake(stack):
    """The fake Stripe (API, stripe.js stand-in, element) on its own origin, every request to
    it recorded, every payment routed to it."""
    with stripe_in_force(stack, routing_to("stripe", "e2e-stripe-element"), api_key=API_KEY,
                         publishable_key=PUBLISHABLE_KEY, webhook_secret=WEBHOOK_SECRET) as fake:
        yield fake


def use_card(page, number: str, cards: set) -> None:
    """Type a test card into Stripe's element (its iframe, Stripe's origin), press our Pay."""
    cards.add(number)
    frame = page.frame_locator("#payment-element iframe")
    frame.get_by_label("Card number").fill(number)
    frame.get_by_label("Expiry").fill(EXPIRY)
    frame.get_by_label("CVC").fill("123")
    page.get_by_role("button", name=re.compile(r"^Pay")).click()


# Like stripe.js, the fake's element answers a declined card's confirm with a 402.
@pytest.mark.allow_console(r"402 \(PAYMENT REQUIRED\) \(\S+/elements/confirm\)")
def test_buyer_pays_in_the_payment_element_after_a_decline_and_no_card_reaches_us(
        page, shop, stack, journey, stripe_fake, e2e_record):
    from app.extensions import db
    from app.models import Order, Payment
    from tests.flows import assert_never_stored, latest_payment

    seen_before = len(e2e_record["platform_requests"])
    log_in(page)
    order_id = check_out(page, "Mug", "Candle")
    continue_to_payment(page, "Embedded card form")
    expect(page).to_have_url(re.compile(rf"/checkout/{order_id}/stripe$"))
    payment = wait_for(lambda: latest_payment(order_id), lambda p: p is not None)
    assert (payment.provider, payment.integration_mode) == ("stripe", "embedded")
    assert payment.psp_reference.startswith("pi_")
    frame = page.locator("#payment-element iframe")
    assert frame.get_attribute("src").startswith(f"{stripe_fake.public_url}/elements/payment#")

    # A declined card: the element's answer is shown on our page; nothing is paid.
    use_card(page, DECLINED, journey)
    expect(page.get_by_role("alert").filter(has_text="Your card was declined.")).to_be_visible()
    expect(page).to_have_url(re.compile(rf"/checkout/{order_id}/stripe$"))
    declined = wait_for(lambda: latest_payment(order_id), lambda p: p.status == "declined")
    assert (declined.status, declined.decline_code) == ("declined", "generic_decline")
    assert db.session.get(Order, order_id).status == "awaiting_payment"

    # Another card in the same element pays; Stripe sends the browser to our return page.
    use_card(page, VISA, journey)
    expect_paid(page, order_id)
    payment = wait_for(lambda: latest_payment(order_id), lambda p: p.status == "captured")
    assert (payment.provider, payment.status) == ("stripe", "captured")
    assert payment.amount == payment.amount_captured == 2400 + 1690
    assert (payment.card_brand, payment.card_last4) == ("visa", "4242")
    assert db.session.get(Order, order_id).status == "paid"

    # Stripe's side: one PaymentIntent under our reference, captured once with one key.
    intent = stripe_fake.objects[payment.psp_reference]
    assert intent["metadata"]["holdfast_reference"] == payment.idempotency_key
    assert (intent["status"], intent["amount_received"]) == ("succeeded", 4090)
    assert len(stripe_fake.of_kind("payment_intent")) == 1
    captures = [c for c in stripe_fake.calls if c[1].endswith("/capture")]
    assert len({c[2] for c in captures}) == 1 and all(c[2] for c in captures)

    # The card went to Stripe's origin (the element's confirm) and nowhere else: our page
    # posted nothing, the platform received no card number, and stored none, nor the secret.
    confirms = [body for _, _, body in stripe_fake.recorder.to(r"^/elements/confirm$")]
    assert len(confirms) == 2
    assert DECLINED in confirms[0] and VISA in confirms[1]  # as typed
    mine = e2e_record["platform_requests"][seen_before:]
    assert not [r for r in mine if r.startswith("POST ") and f"/checkout/{order_id}/stripe" in r]
    cards = [c for card in (VISA, DECLINED) for c in (card, card.replace(" ", ""))]
    for text in mine:
        assert not any(card in text for card in cards), text
    assert_never_stored(Payment, cards + [intent["client_secret"]],
                        file_marker=payment.psp_reference.encode())
    # Let the capture's own events land before the tables are emptied for the next test.
    wait_for(lambda: len({e for e, status in stripe_fake.deliveries if status == 200}),
             lambda n: n >= len(stripe_fake.events))
