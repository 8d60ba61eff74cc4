"""Paying in the PSP's card fields on our page: the mode routes to the fields page, the page
pins the PSP's script and posts us only a token; a token authorizes (and captures), a decline
comes back next to the fields, 3-D Secure goes to the PSP and back, and the payment records
the fields fee the PSP charged."""
from __future__ import annotations

import re

import requests

from app.models import Payment
from app.pci_inventory import pinned_integrity, scripts_on
from tests.flows import (
    add,
    assert_never_stored,
    latest_payment,
    login,
    psp_call,
    settle,
)

VISA, THREE_DS, INSUFFICIENT = "4242424242424242", "4000002760003184", "4000000000009995"


def browser_token(psp_url: str, number: str, expiry: str = "12/39", cvc: str = "123") -> str:
    """What the number frame does in the buyer's browser: tokenize at the PSP's own origin."""
    answer = requests.post(f"{psp_url}/fields/v1/tokens", timeout=10,
                           headers={"Origin": psp_url, "Sec-Fetch-Site": "same-origin"},
                           json={"key": "pk_test_sandbox", "number": number, "expiry": expiry,
                                 "cvc": cvc})
    assert answer.status_code == 200, answer.text
    return answer.json()["id"]


def start(client, people, currency="EUR") -> int:
    login(client, "buyer")
    add(client, people["mug"] if currency == "EUR" else people["board"])
    response = client.post("/checkout", data={"currency": currency})
    order_id = int(response.headers["Location"].rstrip("/").split("/")[-1])
    return order_id


def test_the_fields_mode_opens_a_fields_session_and_the_page(app, client, people):
    order_id = start(client, people)
    response = client.post(f"/checkout/{order_id}/pay", data={"mode": "fields"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/checkout/{order_id}/fields")
    payment = latest_payment(order_id)
    assert (payment.integration_mode, payment.status) == ("fields", "processing")
    # The routing reason compares what the chosen mode costs with the others.
    assert "card fields 1.4 % + 0.20 (€0.54) chosen over hosted 2.9 % + 0.30 (€1.00)" \
        in payment.routing_reason
    assert client.get(f"/checkout/{order_id}/card").headers["Location"].endswith(
        f"/checkout/{order_id}/fields")


def test_the_page_pins_the_psp_script_and_has_no_card_inputs(app, client, people, stack):
    order_id, _ = (start(client, people), None)
    client.post(f"/checkout/{order_id}/pay", data={"mode": "fields"})
    response = client.get(f"/checkout/{order_id}/fields")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    script = f"{stack['psp_url']}/v1/js/fields.v1.js"
    [tag] = [t for t in scripts_on(html) if t.get("src") == script]
    assert tag["integrity"] == pinned_integrity(script) and tag["crossorigin"] == "anonymous"
    assert 'data-publishable-key="pk_test_sandbox"' in html and "sk_test" not in html
    # Our page has the token field only: no input could ever hold a card number.
    inputs = re.findall(r"<input[^>]*>", html)
    assert all('type="hidden"' in i for i in inputs) and 'name="token"' in html


def test_a_token_authorizes_and_captures_and_the_fee_is_the_fields_fee(
        app, client, people, stack, psp):
    order_id = start(client, people)
    client.post(f"/checkout/{order_id}/pay", data={"mode": "fields"})
    token = browser_token(stack["psp_url"], VISA)
    response = client.post(f"/checkout/{order_id}/fields", data={"token": token})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/checkout/{order_id}/return")
    settle(psp)
    payment = latest_payment(order_id)
    assert payment.status == "captured" and payment.card_last4 == "4242"
    session = psp_call(stack["psp_url"], "GET",
                       f"/v1/payment_sessions/{payment.psp_reference}").json()
    assert (session["mode"], session["amount_captured"]) == ("fields", payment.amount)
    assert session["fee"]["schedule"] == "fields"
    assert payment.psp_fee_amount == session["fee"]["amount"] == 54  # 1.4 % of 24.00 + 0.20
    assert_never_stored(Payment, [VISA, token])


def test_a_decline_is_shown_next_to_the_fields_and_another_card_pays(
        app, client, people, stack, psp):
    order_id = start(client, people)
    client.post(f"/checkout/{order_id}/pay", data={"mode": "fields"})
    declined = client.post(f"/checkout/{order_id}/fields",
                           data={"token": browser_token(stack["psp_url"], INSUFFICIENT)})
    assert declined.status_code == 303
    assert declined.headers["Location"].endswith(f"/checkout/{order_id}/fields")
    assert latest_payment(order_id).status == "declined"
    page = client.get(f"/checkout/{order_id}/fields").get_data(as_text=True)
    assert re.search(r'id="error-form" role="alert"\s*>Your card has insufficient funds', page)
    paid = client.post(f"/checkout/{order_id}/fields",
                       data={"token": browser_token(stack["psp_url"], VISA)})
    assert paid.headers["Location"].endswith(f"/checkout/{order_id}/return")
    settle(psp)
    assert latest_payment(order_id).status == "captured"


def test_three_d_secure_goes_to_the_psp_and_back(app, client, people, stack, psp):
    order_id = start(client, people)
    client.post(f"/checkout/{order_id}/pay", data={"mode": "fields"})
    response = client.post(f"/checkout/{order_id}/fields",
                           data={"token": browser_token(stack["psp_url"], THREE_DS)})
    payment = latest_payment(order_id)
    assert payment.status == "requires_action"
    assert response.status_code == 303
    assert response.headers["Location"] == f"{stack['psp_url']}/auth/{payment.psp_reference}"
    # The fields page's CSP lets our form's 303 go to the PSP's 3-D Secure page.
    csp = client.get(f"/checkout/{order_id}/return").headers["Content-Security-Policy"]
    assert stack["psp_url"] not in csp
    # The buyer passes the challenge at the PSP (its own page and form token).
    challenge = requests.get(f"{stack['psp_url']}/auth/{payment.psp_reference}/3ds", timeout=10)
    form_token = re.search(r'name="form_token" value="([^"]+)"', challenge.text).group(1)
    back = requests.post(f"{stack['psp_url']}/auth/{payment.psp_reference}/3ds", timeout=10,
                         data={"form_token": form_token, "outcome": "complete"},
                         allow_redirects=False)
    assert back.headers["Location"].startswith(f"{stack['url']}/checkout/{order_id}/return")
    settle(psp)
    assert latest_payment(order_id).status == "captured"


def test_the_same_token_posted_twice_is_one_authorization(app, client, people, stack, psp):
    order_id = start(client, people)
    client.post(f"/checkout/{order_id}/pay", data={"mode": "fields"})
    token = browser_token(stack["psp_url"], VISA)
    first = client.post(f"/checkout/{order_id}/fields", data={"token": token})
    again = client.post(f"/checkout/{order_id}/fields", data={"token": token})
    assert first.status_code == 303
    # Paid meanwhile: the form no longer takes a card, and the PSP was asked once.
    assert again.status_code == 303 and again.headers["Location"].endswith("/return")
    counts = psp_call(stack["psp_url"], "GET", "/v1/_stats").json()["executions"]
    prefix = latest_payment(order_id).idempotency_key + ":fields:"
    assert [n for key, n in counts.items() if key.startswith(prefix)] == [1]


def test_a_bad_token_field_is_refused_without_calling_the_psp(app, client, people):
    order_id = start(client, people)
    client.post(f"/checkout/{order_id}/pay", data={"mode": "fields"})
    response = client.post(f"/checkout/{order_id}/fields", data={"token": "4242 4242"})
    assert response.status_code == 400
    assert latest_payment(order_id).status == "processing"


def test_usd_is_not_offered_card_fields_by_the_routing_file(app, client, people):
    order_id = start(client, people, currency="USD")
    response = client.post(f"/checkout/{order_id}/pay", data={"mode": "fields"})
    assert response.status_code == 400
    assert "card form on this page is not available" in response.get_data(as_text=True)
    assert latest_payment(order_id) is None


def test_the_pay_page_shows_each_modes_fee_and_saving(app, client, people):
    order_id = start(client, people)  # a 24.00 EUR mug
    html = client.get(f"/checkout/{order_id}").get_data(as_text=True)
    fees = dict(re.findall(r'data-mode-fee="(\w+)">Provider fee ([^<]+)</small>', html))
    assert fees == {"fields": "€0.54 · saves €0.46 in fees against the dearest way",
                    "hosted": "€1.00",
                    "embedded": "€0.85 · saves €0.15 in fees against the dearest way"}
    assert 'value="fields"' in html
    assert 'name="save_card"' in html  # the sandbox really saves cards, in every mode


def test_a_mode_the_rule_leaves_out_is_not_offered(app, client, people):
    order_id = start(client, people, currency="USD")
    html = client.get(f"/checkout/{order_id}").get_data(as_text=True)
    assert 'value="hosted"' in html and 'value="fields"' not in html


def test_save_my_card_in_the_card_fields_keeps_it_for_next_time(app, client, people, stack,
                                                               psp):
    from app.services.payments import vault

    order_id = start(client, people)
    response = client.post(f"/checkout/{order_id}/pay", data={"mode": "fields",
                                                              "save_card": "y"})
    assert response.headers["Location"].endswith(f"/checkout/{order_id}/fields")
    client.post(f"/checkout/{order_id}/fields",
                data={"token": browser_token(stack["psp_url"], VISA)})
    settle(psp)
    assert latest_payment(order_id).status == "captured"
    [method] = vault.list_methods(people["buyer"])
    assert method.provider == "sandbox" and "4242" in method.label


def test_the_routing_rule_preselects_its_preferred_mode(app, client, people):
    eur = start(client, people)  # EUR: the shipped rule prefers the card fields
    html = client.get(f"/checkout/{eur}").get_data(as_text=True)
    assert re.search(r'<input[^>]*checked[^>]*value="fields"', html)
    client.post(f"/checkout/{eur}/pay", data={"mode": "hosted"})
    resumed = client.get(f"/checkout/{eur}").get_data(as_text=True)
    assert re.search(r'<input[^>]*checked[^>]*value="hosted"', resumed)  # what was chosen
    usd = start(client, people, currency="USD")  # USD: hosted first, no card fields
    html = client.get(f"/checkout/{usd}").get_data(as_text=True)
    assert re.search(r'<input[^>]*checked[^>]*value="hosted"', html)
