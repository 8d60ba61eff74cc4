"""Paying Braintree through Hosted Fields on our own page (mode "fields", SAQ A-EP): the page
loads the versioned Hosted Fields script (the fake's stand-in, SRI-pinned) with a client token
made for this page; the browser posts us only the nonce; the nonce makes the sale (a decline is
shown next to the fields). "Save my card" vaults the card; the vaulted card pays again."""
from __future__ import annotations

import base64
import json
import re
from types import SimpleNamespace

import pytest
import requests

from app.models import Payment
from app.pci_inventory import load_committed, script_hashes, scripts_on
from app.providers.registry import Route
from app.services.checkout import provider_choice
from app.services.payments import vault
from tests.fakes.braintree.hosted_fields import SCRIPT_PATH
from tests.fakes.braintree.wiring import braintree_on
from tests.flows import add, assert_never_stored, latest_payment, login, run_jobs
from tests.security.test_sec_script_inventory import inventory_problems

VISA, DECLINED = "4111111111111111", "4000111111111115"


@pytest.fixture
def braintree(app, serve_wsgi, monkeypatch):
    """The platform with a fake Braintree (Hosted Fields configured), every payment to it."""
    with braintree_on(app, serve_wsgi) as (gateway, url):
        route = Route(("braintree",), "test", "test: every payment to braintree")
        monkeypatch.setattr(provider_choice, "choose_route", lambda *args, **kwargs: route)
        yield SimpleNamespace(fake=gateway, url=url)


@pytest.fixture
def buyer(client, people):
    login(client, "buyer")
    return client


def order(client, people) -> int:
    add(client, people["mug"])
    return int(client.post("/checkout", data={"currency": "EUR"})
               .headers["Location"].rsplit("/", 1)[1])


def start(client, people, save: bool = False) -> int:
    order_id = order(client, people)
    data = {"mode": "fields"} | ({"save_card": "y"} if save else {})
    response = client.post(f"/checkout/{order_id}/pay", data=data)
    assert response.headers["Location"].endswith(f"/checkout/{order_id}/fields")
    return order_id


def nonce_from_page(html: str, braintree, number: str) -> str:
    """What Hosted Fields do in the browser: the page's client token authorizes the frames
    (Braintree's origin) to tokenize the typed card into a nonce."""
    token = re.search(r'data-authorization="([^"]+)"', html).group(1)
    fingerprint = json.loads(base64.b64decode(token))["authorizationFingerprint"]
    answer = requests.post(f"{braintree.url}/hosted-fields/tokenize", timeout=5, json={
        "key": fingerprint, "number": number, "expiry": "12 / 34", "cvc": "123"})
    return answer.json()["nonce"]


def pay(client, order_id: int, braintree, number: str):
    html = client.get(f"/checkout/{order_id}/fields").get_data(as_text=True)
    return client.post(f"/checkout/{order_id}/fields",
                       data={"token": nonce_from_page(html, braintree, number)})


def test_the_page_mounts_hosted_fields_pinned_and_allows_braintree_only(app, buyer, people,
                                                                       braintree):
    order_id = start(buyer, people)
    payment = latest_payment(order_id)
    assert (payment.provider, payment.integration_mode, payment.psp_reference) == (
        "braintree", "fields", None)  # no session: the nonce's sale gives the reference
    # The card page sends a fields payment to the fields, not to the Drop-in.
    assert buyer.get(f"/checkout/{order_id}/card").headers["Location"].endswith(
        f"/checkout/{order_id}/fields")
    response = buyer.get(f"/checkout/{order_id}/fields")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'data-library="braintree"' in html and "data-authorization=" in html
    tags = {t.get("src"): t for t in scripts_on(html)}
    hosted = tags[f"{braintree.url}{SCRIPT_PATH}"]
    assert hosted["integrity"].startswith("sha384-")  # pinned: an unreviewed file never runs
    assert "/static/js/braintree-hosted-fields.js" in tags
    assert not re.search(r'name="(number|cvv|cvc|card|expiry)', html)
    csp = response.headers["Content-Security-Policy"]
    assert f"frame-src {braintree.url};" in csp and "form-action 'self';" in csp
    [page] = [p for p in load_committed()["pages"]
              if p["path"] == "/checkout/<order_id>/fields" and p.get("provider") == "braintree"]
    problems = inventory_problems(page, html, response.headers, script_hashes(app.static_folder),
                                  braintree.url)
    assert not problems, "\n".join(problems)


def test_the_served_hosted_fields_script_is_the_reviewed_one(app, braintree):
    from app.pci_inventory import pinned_integrity, psp_script_differences
    from app.providers.registry import card_fields_scripts, fetch_script

    url = f"{braintree.url}{SCRIPT_PATH}"
    assert url in card_fields_scripts() and pinned_integrity(url)
    assert psp_script_differences(load_committed(), [url], fetch_script) == []
    changed = psp_script_differences(load_committed(), [url], lambda _: b"evil()")
    assert changed and "reviewed" in changed[0]


def test_a_nonce_from_the_fields_pays_and_is_captured(buyer, people, braintree):
    order_id = start(buyer, people)
    response = pay(buyer, order_id, braintree, VISA)
    assert response.headers["Location"].endswith(f"/checkout/{order_id}/return")
    run_jobs()
    payment = latest_payment(order_id)
    assert (payment.status, payment.amount_captured, payment.card_last4) == (
        "captured", 2400, "1111")
    sale = braintree.fake.transactions[payment.psp_reference]
    assert (sale["order_id"], sale["status"], sale["amount"]) == (
        payment.idempotency_key, "settled", "24.00")
    assert "token" not in sale["credit_card"]  # not asked to save: nothing vaulted
    assert_never_stored(Payment, [VISA], file_marker=payment.psp_reference.encode())


def test_a_decline_is_shown_next_to_the_fields_then_another_card_pays(buyer, people,
                                                                     braintree):
    order_id = start(buyer, people)
    response = pay(buyer, order_id, braintree, DECLINED)
    assert response.headers["Location"].endswith(f"/checkout/{order_id}/fields")
    page = buyer.get(f"/checkout/{order_id}/fields").get_data(as_text=True)
    assert re.search(r'id="error-form"[^>]*>Your card was declined\. Please try another card\.',
                     page)
    assert latest_payment(order_id).status == "declined"
    pay(buyer, order_id, braintree, VISA)
    run_jobs()
    assert latest_payment(order_id).status == "captured"


def test_save_my_card_vaults_it_and_the_vaulted_card_pays_the_next_order(buyer, people,
                                                                        braintree):
    first = order(buyer, people)
    assert 'name="save_card"' in buyer.get(f"/checkout/{first}").get_data(as_text=True)
    buyer.post(f"/checkout/{first}/pay", data={"mode": "fields", "save_card": "y"})
    pay(buyer, first, braintree, VISA)
    run_jobs()
    [method] = vault.list_methods(people["buyer"])
    assert method.provider == "braintree" and "1111" in method.label
    [token] = list(braintree.fake.vault)

    second = order(buyer, people)
    response = buyer.post(f"/checkout/{second}/pay", data={"mode": f"saved-{method.id}"})
    assert response.headers["Location"].endswith(f"/checkout/{second}/return")
    run_jobs()
    paid = latest_payment(second)
    assert (paid.status, paid.amount_captured) == ("captured", 2400)
    sale = braintree.fake.transactions[paid.psp_reference]
    assert sale["credit_card"]["token"] == token and sale["order_id"] == paid.idempotency_key
    assert len(vault.list_methods(people["buyer"])) == 1
    assert_never_stored(Payment, [token], file_marker=paid.psp_reference.encode())


def test_a_vaulted_card_the_bank_declines_is_explained_and_nothing_is_paid(buyer, people,
                                                                         braintree):
    first = start(buyer, people, save=True)
    pay(buyer, first, braintree, VISA)
    run_jobs()
    [method] = vault.list_methods(people["buyer"])
    [token] = list(braintree.fake.vault)
    braintree.fake.vault[token]["decline"] = ("2000", "Do Not Honor")
    second = order(buyer, people)
    buyer.post(f"/checkout/{second}/pay", data={"mode": f"saved-{method.id}"})
    declined = latest_payment(second)
    assert (declined.status, declined.decline_code) == ("declined", "generic_decline")
    assert "declined" in buyer.get(f"/checkout/{second}/return").get_data(as_text=True)
