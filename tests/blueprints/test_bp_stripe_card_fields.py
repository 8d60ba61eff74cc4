"""Paying Stripe through card fields on our own page (mode "fields", SAQ A-EP): the page loads
stripe.js (the fake's stand-in) and mounts the split Card Element; the browser posts us only a
PaymentMethod id; our server confirms the PaymentIntent (3-D Secure: the buyer goes to Stripe's
page and back; a decline is shown next to the fields). "Save my card" attaches the card to a
Customer; the saved card pays again off-session, or on-session when the bank wants the buyer."""
from __future__ import annotations

import re

import pytest
import requests

from app.models import Payment
from app.pci_inventory import load_committed, script_hashes, scripts_on
from app.services.payments import vault
from tests.blueprints.stripe_steps import deliver, directive
from tests.fakes.stripe import FakeStripe
from tests.fakes.stripe.wiring import stripe_on
from tests.flows import add, assert_never_stored, latest_payment, login
from tests.security.test_sec_script_inventory import inventory_problems

API_KEY, PUBLISHABLE_KEY = "sk_test_fields_suite", "pk_test_fields_suite"
WEBHOOK_SECRET = "whsec_fields_suite"
VISA, THREE_DS, DECLINED = "4242424242424242", "4000002760003184", "4000000000000002"


@pytest.fixture
def stripe_fake(app, tmp_path):
    """A fake Stripe every new payment is routed to, with a publishable key (card fields)."""
    with stripe_on(app, API_KEY, WEBHOOK_SECRET, routing_dir=tmp_path,
                   publishable_key=PUBLISHABLE_KEY) as fake:
        fake.delivered = 0
        yield fake


@pytest.fixture
def buyer(client, people):
    login(client, "buyer")
    return client


def order(client, people) -> int:
    add(client, people["mug"])
    response = client.post("/checkout", data={"currency": "EUR"})
    return int(response.headers["Location"].rsplit("/", 1)[1])


def start(client, people, save: bool = False) -> int:
    """Order a mug (24.00 EUR) and choose the card form on this page; the order id."""
    order_id = order(client, people)
    data = {"mode": "fields"} | ({"save_card": "y"} if save else {})
    response = client.post(f"/checkout/{order_id}/pay", data=data)
    assert response.headers["Location"].endswith(f"/checkout/{order_id}/fields")
    return order_id


def payment_method(fake: FakeStripe, number: str) -> str:
    """What stripe.js's createPaymentMethod answers our page for a card typed in its frames."""
    answer = requests.post(f"{fake.public_url}/elements/payment_methods", timeout=5, json={
        "key": PUBLISHABLE_KEY, "number": number, "expiry": "12/34", "cvc": "123"})
    return answer.json()["id"]


def test_the_page_mounts_stripe_card_element_and_allows_stripe_only(app, buyer, people,
                                                                    stripe_fake):
    order_id = start(buyer, people)
    payment = latest_payment(order_id)
    assert (payment.provider, payment.integration_mode) == ("stripe", "fields")
    assert payment.psp_reference.startswith("pi_")
    response = buyer.get(f"/checkout/{order_id}/fields")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'data-library="stripe"' in html and f'data-publishable-key="{PUBLISHABLE_KEY}"' in html
    assert API_KEY not in html and "_secret_" not in html  # no secret key, no client secret
    srcs = [s.get("src") for s in scripts_on(html)]
    assert f"{stripe_fake.public_url}/v3/" in srcs and "/static/js/stripe-card-fields.js" in srcs
    assert not re.search(r'name="(number|cvc|card|expiry)', html)
    csp = response.headers["Content-Security-Policy"]
    for name in ("script-src", "frame-src", "form-action"):
        assert stripe_fake.public_url in directive(csp, name)
    assert "connect-src 'self'" in csp  # the offline stand-in's frames fetch, not our page
    [page] = [p for p in load_committed()["pages"]
              if p["path"] == "/checkout/<order_id>/fields" and p.get("provider") == "stripe"]
    # The inventory names production's stripe.js; these tests serve the stand-in there.
    [stripe_js] = [s for s in page["scripts"] if s.get("src", "").startswith("https://")]
    assert stripe_js["src"] == "https://js.stripe.com/v3/" and stripe_js["no_sri_justification"]
    stripe_js["src"] = f"{stripe_fake.public_url}/v3/"
    problems = inventory_problems(page, html, response.headers, script_hashes(app.static_folder),
                                  stripe_fake.public_url, stripe_fake.public_url)
    assert not problems, "\n".join(problems)


def test_a_payment_method_from_the_fields_pays_and_is_captured(buyer, people, stripe_fake):
    order_id = start(buyer, people)
    response = buyer.post(f"/checkout/{order_id}/fields",
                          data={"token": payment_method(stripe_fake, VISA)})
    assert response.headers["Location"].endswith(f"/checkout/{order_id}/return")
    deliver(buyer, stripe_fake, WEBHOOK_SECRET)
    payment = latest_payment(order_id)
    assert (payment.status, payment.amount_captured, payment.card_last4) == (
        "captured", 2400, "4242")
    intent = stripe_fake.objects[payment.psp_reference]
    # Stripe's own record: captured in full, once, confirmed from our server with a pm_.
    assert (intent["status"], intent["amount_received"]) == ("succeeded", 2400)
    confirms = [c for c in stripe_fake.calls if c[1].endswith(f"{intent['id']}/confirm")]
    assert len(confirms) == 1
    assert_never_stored(Payment, [VISA], file_marker=payment.psp_reference.encode())


def test_3d_secure_goes_to_stripe_and_back_to_our_return_page(buyer, people, stripe_fake):
    order_id = start(buyer, people)
    response = buyer.post(f"/checkout/{order_id}/fields",
                          data={"token": payment_method(stripe_fake, THREE_DS)})
    challenge = response.headers["Location"]
    assert challenge.startswith(f"{stripe_fake.public_url}/elements/3ds/pi_")
    assert latest_payment(order_id).status == "requires_action"
    back = requests.post(challenge, data={"outcome": "pass"}, timeout=5, allow_redirects=False)
    assert f"/checkout/{order_id}/return?payment_intent=" in back.headers["Location"]
    deliver(buyer, stripe_fake, WEBHOOK_SECRET)
    assert latest_payment(order_id).status == "captured"


def test_a_decline_is_shown_next_to_the_fields_then_another_card_pays(buyer, people,
                                                                     stripe_fake):
    order_id = start(buyer, people)
    response = buyer.post(f"/checkout/{order_id}/fields",
                          data={"token": payment_method(stripe_fake, DECLINED)})
    assert response.headers["Location"].endswith(f"/checkout/{order_id}/fields")
    page = buyer.get(f"/checkout/{order_id}/fields").get_data(as_text=True)
    assert re.search(r'id="error-form"[^>]*>Your card was declined\. Please try another card\.',
                     page)
    assert latest_payment(order_id).status == "declined"
    buyer.post(f"/checkout/{order_id}/fields", data={"token": payment_method(stripe_fake, VISA)})
    deliver(buyer, stripe_fake, WEBHOOK_SECRET)
    assert latest_payment(order_id).status == "captured"


def test_save_my_card_is_offered_and_keeps_a_customer_card_that_pays_off_session(
        app, buyer, people, stripe_fake):
    order_id = order(buyer, people)
    assert 'name="save_card"' in buyer.get(f"/checkout/{order_id}").get_data(as_text=True)
    buyer.post(f"/checkout/{order_id}/pay", data={"mode": "fields", "save_card": "y"})
    buyer.post(f"/checkout/{order_id}/fields", data={"token": payment_method(stripe_fake, VISA)})
    deliver(buyer, stripe_fake, WEBHOOK_SECRET)
    [method] = vault.list_methods(people["buyer"])
    assert method.provider == "stripe" and "4242" in method.label

    second = order(buyer, people)
    response = buyer.post(f"/checkout/{second}/pay", data={"mode": f"saved-{method.id}"})
    assert response.headers["Location"].endswith(f"/checkout/{second}/return")
    deliver(buyer, stripe_fake, WEBHOOK_SECRET)
    paid = latest_payment(second)
    assert (paid.status, paid.amount_captured) == ("captured", 2400)
    intent = stripe_fake.objects[paid.psp_reference]
    assert intent["customer"].startswith("cus_") and intent["amount_received"] == 2400
    assert stripe_fake.objects[intent["payment_method"]]["customer"] == intent["customer"]
    assert len(vault.list_methods(people["buyer"])) == 1
    # The saved card's PaymentMethod id is kept only sealed in the vault: not in the webhook
    # inbox (Stripe puts it in every payment event), the payments table or the audit log.
    assert_never_stored(Payment, [intent["payment_method"]],
                        file_marker=paid.psp_reference.encode())


def test_a_saved_card_the_bank_wants_authenticated_brings_the_buyer_back(
        buyer, people, stripe_fake):
    first = start(buyer, people, save=True)
    answer = buyer.post(f"/checkout/{first}/fields",
                        data={"token": payment_method(stripe_fake, THREE_DS)})
    requests.post(answer.headers["Location"], data={"outcome": "pass"}, timeout=5,
                  allow_redirects=False)
    deliver(buyer, stripe_fake, WEBHOOK_SECRET)
    [method] = vault.list_methods(people["buyer"])

    second = order(buyer, people)
    response = buyer.post(f"/checkout/{second}/pay", data={"mode": f"saved-{method.id}"})
    # Off-session: authentication_required; so on-session, and the buyer goes to the bank.
    challenge = response.headers["Location"]
    assert challenge.startswith(f"{stripe_fake.public_url}/elements/3ds/pi_")
    back = requests.post(challenge, data={"outcome": "pass"}, timeout=5, allow_redirects=False)
    assert f"/checkout/{second}/return" in back.headers["Location"]
    deliver(buyer, stripe_fake, WEBHOOK_SECRET)
    assert latest_payment(second).status == "captured"


def test_without_a_publishable_key_stripe_offers_no_card_fields_and_refuses_them(
        app, buyer, people, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "STRIPE_PUBLISHABLE_KEY", "")
    with stripe_on(app, API_KEY, WEBHOOK_SECRET, routing_dir=tmp_path):
        order_id = order(buyer, people)
        html = buyer.get(f"/checkout/{order_id}").get_data(as_text=True)
        assert 'value="hosted"' in html and 'value="fields"' not in html
        refused = buyer.post(f"/checkout/{order_id}/pay", data={"mode": "fields"})
        assert refused.status_code == 400
        assert "The card form on this page is not available" in refused.get_data(as_text=True)
        assert latest_payment(order_id) is None
