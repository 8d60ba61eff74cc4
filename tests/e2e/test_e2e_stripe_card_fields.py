"""A buyer routed to Stripe pays in card fields on our own page in Chromium (mode "fields"):
our page loads the fake's stand-in for stripe.js from the fake's origin, which mounts the split
Card Element — number, expiry and CVC, each an iframe on that origin — in our form. A decline is
shown next to the fields; a 3-D Secure card goes to Stripe's challenge and back; "Save my card"
attaches it to a Customer, and the next order pays with it — off-session first, and since the
bank wants the buyer, back on-session through the challenge. Money is checked against the fake
Stripe's own PaymentIntents; no card number reaches the platform."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.psp_fakes import routing_to, stripe_in_force
from tests.e2e.steps import check_out, expect_paid, log_in, type_into_card_fields, wait_for

pytestmark = pytest.mark.e2e

API_KEY, PUBLISHABLE_KEY = "sk_test_e2e_fields", "pk_test_e2e_fields"
WEBHOOK_SECRET = "whsec_e2e_fields"
THREE_DS, DECLINED = "4000 0027 6000 3184", "4000 0000 0000 0002"
MODE = "Card form on this page"


@pytest.fixture(scope="module", autouse=True)
def stripe_fake(stack):
    """The fake Stripe on its own origin, every request to it recorded, every payment to it."""
    with stripe_in_force(stack, routing_to("stripe", "e2e-stripe-fields"), api_key=API_KEY,
                         publishable_key=PUBLISHABLE_KEY, webhook_secret=WEBHOOK_SECRET) as fake:
        yield fake


def test_stripe_card_fields_decline_3d_secure_then_a_saved_card_brought_back_on_session(
        page, shop, stack, journey, stripe_fake, e2e_record):
    from app.models import Payment
    from tests.flows import assert_never_stored, latest_payment

    seen_before = len(e2e_record["platform_requests"])
    log_in(page)
    first = check_out(page, "Mug", "Candle")
    page.get_by_label(MODE).check()
    page.get_by_label("Save my card for next time").check()
    page.get_by_role("button", name=re.compile(r"^Continue to payment")).click()
    expect(page).to_have_url(re.compile(rf"/checkout/{first}/fields$"))
    expect(page.locator("#field-number iframe")).to_have_attribute(
        "src", re.compile(re.escape(stripe_fake.public_url) + r"/elements/card/number\?"))

    # Declined: our page again, the reason next to the fields, nothing paid.
    type_into_card_fields(page, DECLINED, journey)
    expect(page).to_have_url(re.compile(rf"/checkout/{first}/fields$"))
    expect(page.locator("#error-form")).to_have_text(
        "Your card was declined. Please try another card.")
    assert latest_payment(first).status == "declined"

    # A card whose bank wants 3-D Secure: Stripe's challenge, then our return page.
    type_into_card_fields(page, THREE_DS, journey)
    expect(page).to_have_url(re.compile(re.escape(stripe_fake.public_url) + r"/elements/3ds/pi_"))
    page.get_by_role("button", name="Complete authentication").click()
    expect_paid(page, first)
    paid = wait_for(lambda: latest_payment(first), lambda p: p.status == "captured")
    intent = stripe_fake.objects[paid.psp_reference]
    # Stripe's own record: the same amount captured, once, confirmed by our server twice.
    assert (intent["status"], intent["amount_received"]) == ("succeeded", 2400 + 1690)
    assert paid.amount_captured == intent["amount_received"] and paid.card_last4 == "3184"
    assert len([c for c in stripe_fake.calls if c[1] == f"/v1/payment_intents/{intent['id']}"
                "/confirm"]) == 2
    customer = intent["customer"]
    assert stripe_fake.objects[intent["payment_method"]]["customer"] == customer

    # The next order: no card typed; off-session the bank wants the buyer, who is brought back.
    second = check_out(page, "Mug")
    saved = page.get_by_label(re.compile(r"Saved card: Visa •••• 3184"))
    expect(saved).to_be_visible()
    saved.check()
    page.get_by_role("button", name=re.compile(r"^Continue to payment")).click()
    expect(page).to_have_url(re.compile(re.escape(stripe_fake.public_url) + r"/elements/3ds/pi_"))
    page.get_by_role("button", name="Complete authentication").click()
    expect_paid(page, second)
    again = wait_for(lambda: latest_payment(second), lambda p: p.status == "captured")
    reused = stripe_fake.objects[again.psp_reference]
    assert (reused["customer"], reused["payment_method"]) == (customer, intent["payment_method"])
    assert reused["amount_received"] == again.amount_captured == 2400
    failed = [e["data"]["object"]["last_payment_error"]["code"]
              for e in stripe_fake.events_of("payment_intent.payment_failed")
              if e["data"]["object"]["id"] == reused["id"]]
    assert failed == ["authentication_required"]  # the off-session try

    # The cards went to Stripe's origin only (its payment_methods endpoint, from its frames).
    typed = [body for _, _, body in stripe_fake.recorder.to(r"^/elements/payment_methods$")]
    assert len(typed) == 2
    mine = e2e_record["platform_requests"][seen_before:]
    cards = [c for card in (THREE_DS, DECLINED) for c in (card, card.replace(" ", ""))]
    for text in mine:
        assert not any(card in text for card in cards), text
    posts = [r for r in mine if r.startswith("POST ") and f"/checkout/{first}/fields " in r]
    assert len(posts) == 2 and all("token=pm_" in r for r in posts)
    assert_never_stored(Payment, cards + [intent["payment_method"]],
                        file_marker=again.psp_reference.encode())

    page.goto("/checkout/saved-cards")
    page.get_by_role("button", name=re.compile(r"Remove Visa •••• 3184")).click()
    expect(page.get_by_text("Saved card removed.")).to_be_visible()
    wait_for(lambda: len({e for e, status in stripe_fake.deliveries if status == 200}),
             lambda n: n >= len(stripe_fake.events))
