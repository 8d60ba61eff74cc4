"""The seller's bank-account page: masked, own account only, password again, sellers only."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import BankAccount
from tests.flows import PASSWORD, login

URL = "/seller/bank-account"
IBAN = "DE89370400440532013000"


def form(**overrides) -> dict:
    data = {"holder_name": "Northwind Goods", "iban": IBAN, "account_number": "",
            "routing_number": "", "password": PASSWORD}
    return {**data, **overrides}


def accounts() -> list[BankAccount]:
    db.session.expire_all()
    return db.session.execute(select(BankAccount).order_by(BankAccount.id)).scalars().all()


def test_the_page_offers_iban_or_us_account_and_asks_for_the_password(client, people):
    login(client, "seller")
    html = client.get(URL).get_data(as_text=True)
    for label in ("Account holder", "IBAN", "Account number", "Routing number",
                  "Current password"):
        assert f">{label}</label>" in html
    assert "No bank account yet" in html
    assert 'type="password"' in html


def test_saving_an_iban_shows_only_the_last_four(client, people):
    login(client, "seller")
    response = client.post(URL, data=form())
    assert response.status_code == 303 and response.headers["Location"].endswith(URL)
    html = client.get(URL).get_data(as_text=True)
    assert "•••• 3000" in html and "Bank account saved" in html
    assert IBAN not in html and "0532013000" not in html and "0532 0130" not in html
    assert [a.last4 for a in accounts()] == ["3000"]


def test_a_us_account_can_be_saved(client, people):
    login(client, "seller")
    response = client.post(URL, data=form(iban="", account_number="000123456789",
                                          routing_number="021000021"))
    assert response.status_code == 303
    assert "•••• 6789" in client.get(URL).get_data(as_text=True)


def test_a_wrong_password_answers_400_and_changes_nothing(client, people):
    login(client, "seller")
    client.post(URL, data=form())
    response = client.post(URL, data=form(iban="GB29NWBK60161331926819", password="wrong-one"))
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    # Said next to the password field, which names it (aria-describedby).
    assert re.search(r'<small class="error" id="password-error">Your current password is not '
                     r'correct', html)
    assert re.search(r'<input[^>]*aria-describedby="password-hint password-error"', html)
    assert "•••• 3000" in html
    [only] = accounts()
    assert only.last4 == "3000" and only.replaced_at is None


def test_a_missing_password_answers_400(client, people):
    login(client, "seller")
    assert client.post(URL, data=form(password="")).status_code == 400
    assert accounts() == []


def test_an_invalid_iban_answers_400_with_a_readable_reason(client, people):
    login(client, "seller")
    response = client.post(URL, data=form(iban="DE89370400440532013001"))
    assert response.status_code == 400
    assert "check digits don" in response.get_data(as_text=True)
    assert accounts() == []


def test_changing_keeps_history_and_shows_the_new_account(client, people):
    login(client, "seller")
    client.post(URL, data=form())
    assert client.post(URL, data=form(iban="GB29NWBK60161331926819")).status_code == 303
    assert "•••• 6819" in client.get(URL).get_data(as_text=True)
    old, new = accounts()
    assert old.replaced_at is not None and new.replaced_at is None


def test_another_seller_sees_only_their_own(client, people):
    login(client, "seller")
    client.post(URL, data=form())
    other = client.application.test_client()
    login(other, "other_seller")
    html = other.get(URL).get_data(as_text=True)
    assert "3000" not in html and "No bank account yet" in html
    assert other.post(URL, data=form(iban="GB29NWBK60161331926819")).status_code == 303
    # The first seller's account is intact.
    assert "•••• 3000" in client.get(URL).get_data(as_text=True)
    assert {(a.seller_id, a.last4) for a in accounts()} == {
        (people["seller"], "3000"), (people["other_seller"], "6819")}


@pytest.mark.parametrize("who", ["buyer", "support"])
def test_non_sellers_get_403(client, people, who):
    login(client, who)
    assert client.get(URL).status_code == 403
    assert client.post(URL, data=form()).status_code == 403
    assert accounts() == []


def test_anonymous_visitors_are_sent_to_log_in(client, people):
    response = client.get(URL)
    assert response.status_code in (302, 303) and "/login" in response.headers["Location"]


def test_the_dashboard_links_to_the_page(client, people):
    login(client, "seller")
    assert f'href="{URL}"' in client.get("/seller").get_data(as_text=True)


def test_a_change_without_a_csrf_token_is_refused(app, client, people):
    login(client, "seller")
    saved, app.config["WTF_CSRF_ENABLED"] = app.config["WTF_CSRF_ENABLED"], True
    try:
        assert client.post(URL, data=form()).status_code == 400
    finally:
        app.config["WTF_CSRF_ENABLED"] = saved
    assert accounts() == []
