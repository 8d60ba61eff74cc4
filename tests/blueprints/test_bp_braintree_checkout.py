"""Paying through Braintree's Drop-in: the page frames the Drop-in, the platform receives only
a nonce, authorizes once, and the payment follows the usual path (capture, escrow, webhooks)."""
from __future__ import annotations

import re
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from app.domain.payment_states import PaymentStatus
from app.extensions import db
from app.models import Payment
from app.pci_inventory import load_committed, script_hashes, scripts_on
from app.providers.registry import Route
from app.security_headers import origin_of
from app.services.audit import Actor
from app.services.checkout import provider_choice
from app.services.payments import actions
from tests.fakes.braintree.wiring import braintree_on
from tests.flows import add, eventually, latest_payment, login, order_and_start, run_jobs
from tests.security.test_sec_script_inventory import inventory_problems

S = PaymentStatus
PAGE = "/checkout/<order_id>/braintree"


@pytest.fixture
def braintree(app, serve_wsgi, monkeypatch):
    """The platform with a fake Braintree, and every new payment routed to it."""
    with braintree_on(app, serve_wsgi) as (gateway, url):
        route = Route(("braintree",), "test", "test: every payment to braintree")
        monkeypatch.setattr(provider_choice, "choose_route", lambda *args, **kwargs: route)
        yield SimpleNamespace(fake=gateway, url=url)


@pytest.fixture
def buyer(client, people):
    login(client, "buyer")
    return client


def start(client, people, mode: str = "embedded") -> int:
    """Order a mug (24.00 EUR) and choose to pay; the order id."""
    add(client, people["mug"])
    return order_and_start(client, "EUR", mode)[0]


def drop_in_nonce(frame_src: str, card: str = "4111111111111111") -> str:
    """The buyer types a test card into the Drop-in frame (Braintree's origin): a nonce."""
    page = requests.get(frame_src, timeout=5)
    fingerprint = re.search(r'data-fingerprint="([^"]+)"', page.text).group(1)
    answer = requests.post(urlsplit(frame_src)._replace(path="/dropin/tokenize", query="")
                           .geturl(), json={"fingerprint": fingerprint, "number": card,
                                            "expiry": "12/30", "cvv": "123"}, timeout=5)
    return answer.json()["nonce"]


def frame_src_of(html: str) -> str:
    return re.search(r'id="dropin-frame"[^>]*src="([^"]+)"', html, re.DOTALL).group(1) \
        .replace("&amp;", "&")


def pay_by_card(client, order_id: int, card: str = "4111111111111111"):
    html = client.get(f"/checkout/{order_id}/braintree").get_data(as_text=True)
    nonce = drop_in_nonce(frame_src_of(html), card)
    return client.post(f"/checkout/{order_id}/braintree", data={"payment_method_nonce": nonce})


def test_a_braintree_payment_goes_to_the_drop_in_page(buyer, people, braintree):
    order_id = start(buyer, people, "embedded")
    payment = latest_payment(order_id)
    assert (payment.provider, payment.status, payment.psp_reference) == \
        ("braintree", "processing", None)
    response = buyer.get(f"/checkout/{order_id}/card")
    assert response.headers["Location"].endswith(f"/checkout/{order_id}/braintree")


def test_hosted_is_refused_before_paying_never_turned_into_the_drop_in(
        buyer, people, braintree, monkeypatch):
    # Braintree has no hosted page: the buyer is told so, and no payment is opened.
    add(buyer, people["mug"])
    order_id = int(buyer.post("/checkout", data={"currency": "EUR"})
                   .headers["Location"].rsplit("/", 1)[1])
    response = buyer.post(f"/checkout/{order_id}/pay", data={"mode": "hosted"})
    assert response.status_code == 400
    assert "The hosted payment page is not available for this payment" in \
        response.get_data(as_text=True)
    assert latest_payment(order_id) is None
    # And the checkout page does not offer it while Braintree is the route.
    from app.services.checkout import mode_costs
    monkeypatch.setattr(mode_costs, "choose_route", provider_choice.choose_route)
    html = buyer.get(f"/checkout/{order_id}").get_data(as_text=True)
    assert 'value="embedded"' in html and 'value="hosted"' not in html
    assert 'value="fields"' in html  # Hosted Fields are configured: the card fields mode
    # Braintree vaults the card: "Save my card" is offered (test_bp_braintree_card_fields.py).
    assert 'name="save_card"' in html


def test_without_hosted_fields_braintree_offers_no_card_fields_and_refuses_them(
        app, buyer, people, braintree, monkeypatch):
    from app.providers import registry
    from app.services.checkout import mode_costs

    monkeypatch.setitem(app.config, "BRAINTREE_HOSTED_FIELDS_URL", "")
    registry_cache = app.extensions.get("holdfast_providers", {})
    registry_cache.pop("braintree", None)
    add(buyer, people["mug"])
    order_id = int(buyer.post("/checkout", data={"currency": "EUR"})
                   .headers["Location"].rsplit("/", 1)[1])
    monkeypatch.setattr(mode_costs, "choose_route", provider_choice.choose_route)
    html = buyer.get(f"/checkout/{order_id}").get_data(as_text=True)
    assert 'value="embedded"' in html and 'value="fields"' not in html
    refused = buyer.post(f"/checkout/{order_id}/pay", data={"mode": "fields"})
    assert refused.status_code == 400
    assert "The card form on this page is not available" in refused.get_data(as_text=True)
    assert latest_payment(order_id) is None
    assert registry.get_provider("braintree").card_fields() is None


def test_the_drop_in_page_frames_braintree_and_holds_no_card_field(app, buyer, people,
                                                                     braintree):
    order_id = start(buyer, people)
    response = buyer.get(f"/checkout/{order_id}/braintree")
    html = response.get_data(as_text=True)
    src = frame_src_of(html)
    assert origin_of(src) == braintree.url
    query = parse_qs(urlsplit(src).query)
    assert query["origin"] == [origin_of(app.config["PUBLIC_URL"])]
    assert query["authorization"][0]  # a client token, fetched from Braintree
    csp = response.headers["Content-Security-Policy"]
    assert f"frame-src {braintree.url};" in csp  # the Drop-in only: no other PSP is framed
    assert "form-action 'self';" in csp  # the nonce is posted to us
    # Our page has our nonce field only: the card fields live in Braintree's frame.
    assert 'name="payment_method_nonce"' in html
    assert not re.search(r'name="(number|cvv|card|expiry)', html)
    # Other pages do not frame Braintree.
    other = buyer.get(f"/checkout/{order_id}/return").headers["Content-Security-Policy"]
    assert braintree.url not in other


def test_the_drop_in_page_matches_the_script_inventory(app, buyer, people, braintree):
    order_id = start(buyer, people)
    [page] = [p for p in load_committed()["pages"] if p["path"] == PAGE]
    response = buyer.get(f"/checkout/{order_id}/braintree")
    frames = braintree.url
    problems = inventory_problems(page, response.get_data(as_text=True), response.headers,
                                  script_hashes(app.static_folder), frames)
    assert not problems, "\n".join(problems)
    srcs = [s.get("src") for s in scripts_on(response.get_data(as_text=True))]
    assert "/static/js/braintree-dropin.js" in srcs and not any(
        s and s.startswith("http") for s in srcs)


def test_the_nonce_authorizes_once_and_the_payment_is_captured(app, buyer, people, braintree):
    order_id = start(buyer, people)
    response = pay_by_card(buyer, order_id)
    assert response.headers["Location"].endswith(f"/checkout/{order_id}/return")
    payment = latest_payment(order_id)
    assert payment.status == "authorized" and payment.psp_reference
    assert braintree.fake.executions[payment.idempotency_key] == 1
    assert (payment.card_brand, payment.card_last4) == ("Visa", "1111")
    run_jobs()  # AUTO_CAPTURE: submit_for_settlement, escrow holds
    payment = latest_payment(order_id)
    assert (payment.status, payment.amount_captured) == ("captured", 2400)
    assert braintree.fake.transactions[payment.psp_reference]["status"] == "settled"
    assert payment.order.status == "paid"
    # A second submit (double click, back button) changes nothing and charges nothing.
    again = buyer.post(f"/checkout/{order_id}/braintree",
                       data={"payment_method_nonce": "fake-valid-visa-nonce"})
    assert again.headers["Location"].endswith(f"/checkout/{order_id}/return")
    assert braintree.fake.executions[payment.idempotency_key] == 1


def test_a_declined_card_shows_why_and_another_card_pays(buyer, people, braintree):
    order_id = start(buyer, people)
    response = pay_by_card(buyer, order_id, card="4000111111111115")
    assert response.headers["Location"].endswith(f"/checkout/{order_id}/braintree")
    payment = latest_payment(order_id)
    assert (payment.status, payment.decline_code) == ("declined", "generic_decline")
    page = buyer.get(f"/checkout/{order_id}/braintree").get_data(as_text=True)
    assert "Your card was declined" in page
    pay_by_card(buyer, order_id)
    paid = latest_payment(order_id)
    assert paid.status == "authorized"
    assert braintree.fake.transactions[paid.psp_reference]["status"] == "authorized"
    assert braintree.fake.executions[paid.idempotency_key] == 2  # the decline, then the sale


def test_a_sale_whose_answer_is_lost_is_found_not_charged_twice(app, buyer, people,
                                                                  braintree):
    from app.providers.registry import get_provider

    order_id = start(buyer, people)
    html = buyer.get(f"/checkout/{order_id}/braintree").get_data(as_text=True)
    nonce = drop_in_nonce(frame_src_of(html), "4111111111111111")
    braintree.fake.fail_next("timeout_after")
    adapter = get_provider("braintree").inner
    adapter.timeout, patient = 1.0, adapter.timeout  # the fake holds this answer 3 s
    try:
        response = buyer.post(f"/checkout/{order_id}/braintree",
                              data={"payment_method_nonce": nonce})
    finally:
        adapter.timeout = patient  # only the held-back sale may time out, however busy the box
    # The return page follows the outcome; the buyer is told not to pay again.
    assert response.headers["Location"].endswith(f"/checkout/{order_id}/return")
    page = buyer.get(response.headers["Location"]).get_data(as_text=True)
    assert "please do not pay again" in page
    payment = latest_payment(order_id)
    assert (payment.status, payment.psp_reference) == ("unknown", None)
    # While unknown, the Drop-in is not offered again.
    assert buyer.get(f"/checkout/{order_id}/braintree").status_code == 303
    # The janitor's re-fetch finds the sale by our order_id and adopts its transaction id
    # (once the fake has made it: under load it may still be at it when the adapter gave up).
    eventually(lambda: braintree.fake.executions[payment.idempotency_key] == 1)
    actions.refresh(payment.id, Actor("system:janitor", "worker"))
    payment = latest_payment(order_id)
    assert payment.status == "authorized" and payment.psp_reference
    assert braintree.fake.executions[payment.idempotency_key] == 1


def test_an_outage_before_the_sale_charges_nothing_and_lets_the_buyer_retry(app, buyer, people,
                                                                           braintree):
    order_id = start(buyer, people)
    for _ in range(app.config["PSP_RETRY_ATTEMPTS"]):  # outlasts the guard's retries
        braintree.fake.fail_next("429")
    response = pay_by_card(buyer, order_id)
    assert response.headers["Location"].endswith(f"/checkout/{order_id}/braintree")
    payment = latest_payment(order_id)
    assert payment.status == "declined" and "Nothing has been charged" in payment.failure_message
    assert braintree.fake.executions[payment.idempotency_key] == 0
    pay_by_card(buyer, order_id)
    assert latest_payment(order_id).status == "authorized"


@pytest.mark.parametrize("nonce", ["", "4111 1111 1111 1111", "<script>", "x" * 201])
def test_anything_but_a_nonce_is_refused(buyer, people, braintree, nonce):
    order_id = start(buyer, people)
    response = buyer.post(f"/checkout/{order_id}/braintree", data={"payment_method_nonce": nonce})
    assert response.status_code == 400
    assert latest_payment(order_id).status == "processing"
    assert not braintree.fake.transactions


def test_another_buyers_order_is_not_found(client, people, braintree):
    login(client, "buyer")
    order_id = start(client, people)
    client.post("/logout")
    other = client.application.test_client()
    login(other, "other_buyer")
    assert other.get(f"/checkout/{order_id}/braintree").status_code == 404
    assert other.post(f"/checkout/{order_id}/braintree",
                      data={"payment_method_nonce": "fake-valid-nonce"}).status_code == 404
    assert not braintree.fake.transactions


def test_a_settled_notification_refetches_the_payment(app, buyer, people, braintree):
    from app.providers.registry import get_provider

    order_id = start(buyer, people)
    pay_by_card(buyer, order_id)
    run_jobs()
    payment = latest_payment(order_id)
    gateway = get_provider("braintree").gateway
    sample = gateway.webhook_testing.sample_notification("transaction_settled",
                                                         payment.psp_reference)
    response = buyer.post("/webhooks/braintree", data=sample)
    assert response.status_code == 200
    run_jobs()
    db.session.expire_all()
    event = db.session.execute(db.select(Payment).where(Payment.id == payment.id)).scalar_one()
    assert event.status == "captured"
    from app.models import WebhookEvent
    [row] = db.session.execute(db.select(WebhookEvent)).scalars().all()
    assert (row.status, row.object_id) == ("processed", payment.psp_reference)
