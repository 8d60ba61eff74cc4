"""Paying in Stripe's Payment Element: the page loads stripe.js from Stripe's origin (the fake
offline) with the publishable key and the intent's client secret, allows that origin only on
that page, and learns the outcome from Stripe's webhooks — never from the browser."""
from __future__ import annotations

import re

import pytest

from app.models import Payment
from app.pci_inventory import load_committed, script_hashes, scripts_on
from app.security_headers import origin_of
from tests.blueprints.stripe_steps import deliver, directive
from tests.fakes.stripe.controls import confirm_element
from tests.fakes.stripe.wiring import forget, stripe_on
from tests.flows import (
    add,
    assert_never_stored,
    latest_payment,
    login,
    order_and_start,
)
from tests.security.test_sec_script_inventory import inventory_problems

API_KEY, PUBLISHABLE_KEY = "sk_test_element_suite", "pk_test_element_suite"
WEBHOOK_SECRET = "whsec_element_suite"
PAGE = "/checkout/<order_id>/stripe"
VISA, DECLINED = "4242424242424242", "4000000000000002"


@pytest.fixture
def stripe_fake(app, tmp_path):
    """A fake Stripe (API, stripe.js and the element) every new payment is routed to."""
    with stripe_on(app, API_KEY, WEBHOOK_SECRET, routing_dir=tmp_path,
                   publishable_key=PUBLISHABLE_KEY) as fake:
        fake.delivered = 0
        yield fake


@pytest.fixture
def buyer(client, people):
    login(client, "buyer")
    return client


def start(client, people, mode: str = "embedded") -> int:
    """Order a mug (24.00 EUR) and choose to pay; the order id (a 303 to the card page)."""
    add(client, people["mug"])
    return order_and_start(client, "EUR", mode)[0]


def test_an_embedded_stripe_payment_goes_to_the_element_page(buyer, people, stripe_fake):
    order_id = start(buyer, people)
    payment = latest_payment(order_id)
    assert (payment.provider, payment.integration_mode, payment.status) == (
        "stripe", "embedded", "processing")
    assert payment.psp_reference.startswith("pi_") and payment.embed_url is None
    intent = stripe_fake.objects[payment.psp_reference]
    assert (intent["amount"], intent["capture_method"]) == (2400, "manual")
    assert intent["metadata"]["holdfast_reference"] == payment.idempotency_key
    card = buyer.get(f"/checkout/{order_id}/card")
    assert card.status_code == 303 and card.headers["Location"].endswith(
        f"/checkout/{order_id}/stripe")


def test_the_page_carries_the_publishable_key_and_client_secret_never_the_secret_key(
        app, buyer, people, stripe_fake):
    order_id = start(buyer, people)
    payment = latest_payment(order_id)
    response = buyer.get(f"/checkout/{order_id}/stripe")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    secret = stripe_fake.objects[payment.psp_reference]["client_secret"]
    assert f'data-publishable-key="{PUBLISHABLE_KEY}"' in html
    assert f'data-client-secret="{secret}"' in html
    assert f'data-return-url="{origin_of(app.config["PUBLIC_URL"])}/checkout/{order_id}/return"' \
        in html
    assert API_KEY not in html and "sk_" not in html
    srcs = [tag.get("src") for tag in scripts_on(html)]
    assert f"{stripe_fake.public_url}/v3/" in srcs and "/static/js/stripe-element.js" in srcs
    assert not re.search(r"<input[^>]+(number|cvc|cc-)", html)  # the card form is Stripe's
    # The client secret lives only in the rendered page: nothing of ours stores it.
    assert_never_stored(Payment, [secret])


def test_only_the_element_page_lets_stripe_js_run(app, buyer, people, stripe_fake):
    order_id = start(buyer, people)
    fake_origin = stripe_fake.public_url
    csp = buyer.get(f"/checkout/{order_id}/stripe").headers["Content-Security-Policy"]
    nonce = re.search(r"'nonce-([^']+)'", csp).group(1)
    assert directive(csp, "script-src") == f"script-src 'self' 'nonce-{nonce}' {fake_origin}"
    assert directive(csp, "frame-src").endswith(f" {fake_origin}")
    assert directive(csp, "connect-src") == "connect-src 'self'"  # the stand-in's frame posts
    for path in (f"/checkout/{order_id}", f"/checkout/{order_id}/return", "/"):
        other = buyer.get(path).headers["Content-Security-Policy"]
        assert fake_origin not in directive(other, "script-src"), path


def test_real_stripe_js_also_gets_the_api_and_3ds_origins_stripe_documents(
        app, buyer, people, stripe_fake, monkeypatch):
    order_id = start(buyer, people)
    monkeypatch.setitem(app.config, "STRIPE_JS_URL", "https://js.stripe.com/v3/")
    forget(app)  # the adapter declares its origins from the config it was built with
    response = buyer.get(f"/checkout/{order_id}/stripe")
    csp = response.headers["Content-Security-Policy"]
    assert directive(csp, "script-src").endswith(" https://js.stripe.com")
    assert directive(csp, "connect-src") == "connect-src 'self' https://api.stripe.com"
    assert directive(csp, "frame-src").endswith(" https://js.stripe.com https://hooks.stripe.com")
    assert 'src="https://js.stripe.com/v3/"' in response.get_data(as_text=True)


def test_the_element_page_matches_the_script_inventory(app, buyer, people, stripe_fake):
    order_id = start(buyer, people)
    [page] = [p for p in load_committed()["pages"] if p["path"] == PAGE]
    # The inventory names production's stripe.js; these tests serve the stand-in there.
    [stripe_js] = [s for s in page["scripts"] if s.get("src", "").startswith("https://")]
    assert stripe_js["src"] == "https://js.stripe.com/v3/" and "sha384" not in stripe_js
    stripe_js["src"] = app.config["STRIPE_JS_URL"]
    response = buyer.get(f"/checkout/{order_id}/stripe")
    frames = stripe_fake.public_url  # Stripe's origins only: no other PSP, no hosted page
    problems = inventory_problems(page, response.get_data(as_text=True), response.headers,
                                  script_hashes(app.static_folder), frames,
                                  script_origin=stripe_fake.public_url)
    assert not problems, "\n".join(problems)
    # A PSP script listed without saying why it has no SRI is a finding.
    del stripe_js["no_sri_justification"]
    assert any("justification for no SRI" in p for p in inventory_problems(
        page, response.get_data(as_text=True), response.headers,
        script_hashes(app.static_folder), frames, script_origin=stripe_fake.public_url))


def test_a_decline_is_shown_and_another_card_pays_through_the_webhooks(
        buyer, people, stripe_fake):
    order_id = start(buyer, people)
    reference = latest_payment(order_id).psp_reference
    answer = confirm_element(stripe_fake, reference, DECLINED)
    assert answer["error"]["message"] == "Your card was declined."
    deliver(buyer, stripe_fake, WEBHOOK_SECRET)
    declined = latest_payment(order_id)
    assert (declined.status, declined.decline_code) == ("declined", "generic_decline")
    again = buyer.get(f"/checkout/{order_id}/stripe")
    assert again.status_code == 200 and declined.failure_message in again.get_data(as_text=True)

    confirm_element(stripe_fake, reference, VISA)
    deliver(buyer, stripe_fake, WEBHOOK_SECRET)
    payment = latest_payment(order_id)
    assert (payment.status, payment.amount_captured, payment.card_last4) == (
        "captured", 2400, "4242")
    assert stripe_fake.objects[reference]["status"] == "succeeded"
    done = buyer.get(f"/checkout/{order_id}/stripe")
    assert done.status_code == 303 and done.headers["Location"].endswith(
        f"/checkout/{order_id}/return")
    # Stripe's payment_intent.* events carry the client secret: the inbox kept them without.
    assert_never_stored(Payment, [stripe_fake.objects[reference]["client_secret"]],
                        file_marker=reference.encode())


def test_the_return_page_trusts_nothing_in_stripes_query(buyer, people, stripe_fake):
    order_id = start(buyer, people)
    reference = latest_payment(order_id).psp_reference
    secret = stripe_fake.objects[reference]["client_secret"]
    buyer.get(f"/checkout/{order_id}/return?payment_intent={reference}"
              f"&payment_intent_client_secret={secret}&redirect_status=succeeded")
    assert latest_payment(order_id).status == "processing"  # nothing was confirmed at Stripe


def test_another_buyers_order_is_not_found(client, people, stripe_fake):
    login(client, "buyer")
    order_id = start(client, people)
    client.post("/logout")
    login(client, "other_buyer")
    response = client.get(f"/checkout/{order_id}/stripe")
    assert response.status_code == 404
    assert "client-secret" not in response.get_data(as_text=True)


def test_a_payment_on_another_provider_or_mode_is_not_served_this_page(buyer, people,
                                                                         stripe_fake,
                                                                         monkeypatch, app):
    hosted = start(buyer, people, mode="hosted")
    response = buyer.get(f"/checkout/{hosted}/stripe")
    assert response.status_code == 303 and response.headers["Location"].endswith(
        f"/checkout/{hosted}/card")
    monkeypatch.setitem(app.config, "ROUTING_FILE", "")  # the default rules: the sandbox
    sandbox = start(buyer, people)
    assert latest_payment(sandbox).provider.startswith("sandbox")
    response = buyer.get(f"/checkout/{sandbox}/stripe")
    assert response.status_code == 303 and response.headers["Location"].endswith(
        f"/checkout/{sandbox}/card")
    assert buyer.get(f"/checkout/{sandbox}/card").status_code == 200  # the sandbox's own form


def test_when_stripe_cannot_be_asked_the_page_says_so_and_loads_no_stripe_js(
        app, buyer, people, stripe_fake):
    order_id = start(buyer, people)
    for _ in range(app.config["PSP_RETRY_ATTEMPTS"] + 1):  # outlasts the guard's retries
        stripe_fake.fail_next("5xx_before", "GET")
    response = buyer.get(f"/checkout/{order_id}/stripe")
    html = response.get_data(as_text=True)
    assert response.status_code == 503 and "card form is not available" in html
    assert stripe_fake.public_url not in html
    assert stripe_fake.public_url not in response.headers["Content-Security-Policy"].split(
        "script-src")[1].split(";")[0]
