"""Saved cards at checkout: "Save my card", paying with a saved card, removing one."""
from __future__ import annotations

import re

import pytest
import requests
from sqlalchemy import select

from app.extensions import db
from app.models import AuditRecord, Payment, SavedPaymentMethod
from app.services.payments import vault
from tests.flows import add, buyer_pays, latest_payment, login, psp_call, settle


def audits(action: str) -> list[AuditRecord]:
    db.session.expire_all()
    return db.session.execute(select(AuditRecord).where(AuditRecord.action == action)
                              .order_by(AuditRecord.id)).scalars().all()


def new_order(client, people, item="mug") -> int:
    add(client, people[item])
    response = client.post("/checkout", data={"currency": "EUR"})
    return int(response.headers["Location"].rsplit("/", 1)[1])


def pay(client, order_id: int, mode: str, save: bool = False):
    data = {"mode": mode, **({"save_card": "y"} if save else {})}
    return client.post(f"/checkout/{order_id}/pay", data=data)


def complete_challenge(psp_url: str, session_id: str) -> None:
    """The buyer passes 3-D Secure on the sandbox's page."""
    page = requests.get(f"{psp_url}/pay/{session_id}/3ds", timeout=5)
    token = re.search(r'name="form_token" value="([^"]+)"', page.text).group(1)
    requests.post(f"{psp_url}/pay/{session_id}/3ds", data={"form_token": token,
                                                            "outcome": "complete"},
                  allow_redirects=False, timeout=5)


def save_a_card(client, people, stack, pm="pm_card_visa") -> int:
    """Pay an order with "Save my card" ticked; the saved card's id."""
    order_id = new_order(client, people)
    assert pay(client, order_id, "hosted", save=True).status_code == 303
    session_id = latest_payment(order_id).psp_reference
    buyer_pays(stack["psp_url"], session_id, pm)
    if pm == "pm_card_threeDSecure2Required":
        complete_challenge(stack["psp_url"], session_id)
    settle(stack["psp"])
    [method] = vault.list_methods(people["buyer"])
    return method.id


@pytest.fixture
def buyer(client, people):
    login(client, "buyer")
    return client


def test_the_pay_page_offers_to_save_the_card(buyer, people):
    page = buyer.get(f"/checkout/{new_order(buyer, people)}").get_data(as_text=True)
    assert "Save my card for next time" in page and 'name="save_card"' in page
    assert "Saved card:" not in page


def test_ticking_save_keeps_the_card_once_paid(buyer, people, stack):
    order_id = new_order(buyer, people)
    pay(buyer, order_id, "hosted", save=True)
    payment = latest_payment(order_id)
    assert payment.save_payment_method
    session = psp_call(stack["psp_url"], "GET", f"/v1/payment_sessions/{payment.psp_reference}")
    assert session.json()["setup_future_usage"] == "off_session"
    buyer_pays(stack["psp_url"], payment.psp_reference)
    settle(stack["psp"])
    [method] = vault.list_methods(people["buyer"])
    assert method.label.startswith("Visa •••• 4242 (12/")
    [saved] = audits("vault.method_saved")
    assert saved.actor == "psp:sandbox" and f"user:{people['buyer']}" in saved.details
    page = buyer.get(f"/checkout/{new_order(buyer, people, 'candle')}").get_data(as_text=True)
    assert f'value="saved-{method.id}"' in page and f"Saved card: {method.label}" in page


def test_without_the_tick_or_when_declined_nothing_is_saved(buyer, people, stack):
    plain = new_order(buyer, people)
    pay(buyer, plain, "hosted")
    buyer_pays(stack["psp_url"], latest_payment(plain).psp_reference)
    declined = new_order(buyer, people, "candle")
    pay(buyer, declined, "hosted", save=True)
    buyer_pays(stack["psp_url"], latest_payment(declined).psp_reference, "pm_card_chargeDeclined")
    settle(stack["psp"])
    assert latest_payment(plain).status == "captured"
    assert latest_payment(declined).status == "declined"
    assert db.session.execute(select(SavedPaymentMethod)).first() is None


def test_ticking_save_later_opens_a_new_session_that_saves(buyer, people, stack):
    order_id = new_order(buyer, people)
    pay(buyer, order_id, "hosted")
    first = latest_payment(order_id)
    pay(buyer, order_id, "hosted", save=True)
    second = latest_payment(order_id)
    assert second.id != first.id and second.save_payment_method
    assert db.session.get(Payment, first.id).status == "cancelled"
    assert pay(buyer, order_id, "hosted", save=True).headers["Location"] == second.redirect_url


def test_paying_with_a_saved_card(buyer, people, stack):
    method_id = save_a_card(buyer, people, stack)
    order_id = new_order(buyer, people, "candle")
    response = pay(buyer, order_id, f"saved-{method_id}")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/checkout/{order_id}/return")
    payment = latest_payment(order_id)
    assert payment.status == "authorized" and not payment.save_payment_method
    [opened] = audits("vault.decrypted")
    assert opened.actor == "buyer@test.example" and opened.target == \
        f"saved_payment_method:{method_id}" and f"pay order {order_id}" in opened.details
    executions = psp_call(stack["psp_url"], "GET", "/v1/_stats").json()["executions"]
    assert executions[f"{payment.idempotency_key}:authorize_saved"] == 1
    settle(stack["psp"])
    assert latest_payment(order_id).status == "captured"
    assert "Payment received." in buyer.get(f"/checkout/{order_id}/return").get_data(as_text=True)
    assert len(vault.list_methods(people["buyer"])) == 1  # paying saved does not save again


def test_a_saved_3ds_card_sends_the_buyer_to_the_challenge(buyer, people, stack):
    method_id = save_a_card(buyer, people, stack, "pm_card_threeDSecure2Required")
    order_id = new_order(buyer, people, "candle")
    response = pay(buyer, order_id, f"saved-{method_id}")
    payment = latest_payment(order_id)
    assert payment.status == "requires_action"
    assert response.status_code == 303 and response.headers["Location"] == payment.redirect_url
    assert response.headers["Location"].startswith(stack["psp_url"] + "/pay/ps_")
    complete_challenge(stack["psp_url"], payment.psp_reference)
    settle(stack["psp"])
    assert latest_payment(order_id).status == "captured"


def test_another_buyers_saved_card_cannot_pay(client, people, stack):
    login(client, "buyer")
    method_id = save_a_card(client, people, stack)
    client.post("/logout")
    login(client, "other_buyer")
    order_id = new_order(client, people, "candle")
    response = pay(client, order_id, f"saved-{method_id}")
    assert response.status_code == 400  # not one of this buyer's choices
    assert f"saved-{method_id}" not in client.get(f"/checkout/{order_id}").get_data(as_text=True)
    assert latest_payment(order_id) is None and audits("vault.decrypted") == []
    assert client.post(f"/checkout/saved-cards/{method_id}/remove").status_code == 404
    assert len(vault.list_methods(people["buyer"])) == 1


def test_removing_a_card(buyer, people, stack):
    method_id = save_a_card(buyer, people, stack)
    order_id = new_order(buyer, people, "candle")
    page = buyer.get("/checkout/saved-cards").get_data(as_text=True)
    assert "Visa •••• 4242" in page and "Remove" in page
    response = buyer.post(f"/checkout/saved-cards/{method_id}/remove",
                          data={"next": f"/checkout/{order_id}"})
    assert response.status_code == 303 and response.headers["Location"] == f"/checkout/{order_id}"
    assert vault.list_methods(people["buyer"]) == []
    assert "Saved card:" not in buyer.get(f"/checkout/{order_id}").get_data(as_text=True)
    assert pay(buyer, order_id, f"saved-{method_id}").status_code == 400
    again = buyer.post(f"/checkout/saved-cards/{method_id}/remove")
    assert again.status_code == 404


def test_removing_never_redirects_off_site(buyer, people, stack):
    method_id = save_a_card(buyer, people, stack)
    response = buyer.post(f"/checkout/saved-cards/{method_id}/remove",
                          data={"next": "https://evil.example/"})
    assert response.headers["Location"] == "/checkout/saved-cards"


def test_removing_needs_the_csrf_token(app, buyer, people, stack):
    method_id = save_a_card(buyer, people, stack)
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        response = buyer.post(f"/checkout/saved-cards/{method_id}/remove")
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert response.status_code == 400
    assert len(vault.list_methods(people["buyer"])) == 1


def test_a_card_removed_while_its_payment_settles_is_not_saved_again(buyer, people, stack):
    method_id = save_a_card(buyer, people, stack)
    order_id = new_order(buyer, people, "candle")
    pay(buyer, order_id, f"saved-{method_id}")
    buyer.post(f"/checkout/saved-cards/{method_id}/remove")
    settle(stack["psp"])  # the captured webhook still carries the reusable method
    assert latest_payment(order_id).status == "captured"
    assert vault.list_methods(people["buyer"]) == []


def test_saved_cards_need_a_buyer(client, people):
    login(client, "seller")
    assert client.get("/checkout/saved-cards").status_code == 403
    assert client.post("/checkout/saved-cards/1/remove").status_code == 403
