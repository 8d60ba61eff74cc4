"""The seller's Stripe-account page: own account only, checked with Stripe, password again,
sellers only, and only when Stripe is in use."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import ProviderAccount
from app.providers.stripe import connect
from app.services.money import connected_accounts
from tests.fakes.stripe.wiring import stripe_on
from tests.flows import PASSWORD, login

URL = "/seller/stripe-account"
API_KEY = "sk_test_account_page"


@pytest.fixture
def stripe_fake(app):
    """Stripe configured, pointed at a fake for one test."""
    with stripe_on(app, API_KEY) as fake:
        yield fake


def opened() -> str:
    """A connected account that exists at the fake."""
    return connect.create_account(connected_accounts.stripe_adapter(), "s@test.example", "DE",
                                  uuid.uuid4().hex)


def rows() -> set[tuple[int, str]]:
    db.session.expire_all()
    return {(r.user_id, r.account_ref)
            for r in db.session.execute(select(ProviderAccount)).scalars()}


def test_the_page_offers_the_form_when_stripe_is_in_use(client, people, stripe_fake):
    login(client, "seller")
    html = client.get(URL).get_data(as_text=True)
    assert ">Stripe account id</label>" in html and ">Current password</label>" in html
    assert "No Stripe account yet" in html and 'type="password"' in html


def test_saving_an_account_shows_it_and_routes_payouts_to_it(client, people, stripe_fake):
    account = opened()
    login(client, "seller")
    response = client.post(URL, data={"account_id": account, "password": PASSWORD})
    assert response.status_code == 303 and response.headers["Location"].endswith(URL)
    html = client.get(URL).get_data(as_text=True)
    assert account in html and "Stripe account saved" in html
    assert rows() == {(people["seller"], account)}


@pytest.mark.parametrize("data, status, words", [
    ({"account_id": "acct 123", "password": PASSWORD}, 400, "looks like acct_"),
    ({"account_id": "acct_1234567890abcd", "password": PASSWORD}, 400,
     "Stripe has no account acct_1234567890abcd"),
    ({"account_id": "acct_1234567890abcd", "password": ""}, 400, "This field is required"),
    ({"account_id": "", "password": PASSWORD}, 400, "This field is required"),
])
def test_invalid_input_answers_with_the_reason_and_saves_nothing(client, people, stripe_fake,
                                                                 data, status, words):
    login(client, "seller")
    response = client.post(URL, data=data)
    assert response.status_code == status
    assert words in response.get_data(as_text=True)
    assert rows() == set()


def test_a_wrong_password_changes_nothing(client, people, stripe_fake):
    account = opened()
    login(client, "seller")
    response = client.post(URL, data={"account_id": account, "password": "not-it"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "password is not correct" in html and 'role="alert"' in html
    assert rows() == set()


def test_another_seller_neither_sees_nor_takes_over_the_account(client, people, stripe_fake):
    account = opened()
    login(client, "seller")
    client.post(URL, data={"account_id": account, "password": PASSWORD})
    other = client.application.test_client()
    login(other, "other_seller")
    html = other.get(URL).get_data(as_text=True)
    assert account not in html and "No Stripe account yet" in html
    refused = other.post(URL, data={"account_id": account, "password": PASSWORD})
    assert refused.status_code == 400
    assert "cannot be used here" in refused.get_data(as_text=True)
    theirs = opened()
    assert other.post(URL, data={"account_id": theirs, "password": PASSWORD}).status_code == 303
    assert rows() == {(people["seller"], account), (people["other_seller"], theirs)}
    assert account in client.get(URL).get_data(as_text=True)


def test_without_stripe_the_page_says_so_and_refuses(client, people):
    login(client, "seller")
    html = client.get(URL).get_data(as_text=True)
    assert "Stripe is not in use" in html and "account_id" not in html
    response = client.post(URL, data={"account_id": "acct_1234567890abcd",
                                      "password": PASSWORD})
    assert response.status_code == 409 and rows() == set()


@pytest.mark.parametrize("who", ["buyer", "support"])
def test_non_sellers_get_403(client, people, stripe_fake, who):
    login(client, who)
    assert client.get(URL).status_code == 403
    assert client.post(URL, data={"account_id": opened(), "password": PASSWORD}
                       ).status_code == 403
    assert rows() == set()


def test_anonymous_visitors_are_sent_to_log_in(client, people):
    response = client.get(URL)
    assert response.status_code in (302, 303) and "/login" in response.headers["Location"]


def test_the_bank_account_page_links_here(client, people):
    login(client, "seller")
    assert f'href="{URL}"' in client.get("/seller/bank-account").get_data(as_text=True)


def test_a_change_without_a_csrf_token_is_refused(app, client, people, stripe_fake):
    account = opened()
    login(client, "seller")
    saved, app.config["WTF_CSRF_ENABLED"] = app.config["WTF_CSRF_ENABLED"], True
    try:
        assert client.post(URL, data={"account_id": account, "password": PASSWORD}
                           ).status_code == 400
    finally:
        app.config["WTF_CSRF_ENABLED"] = saved
    assert rows() == set()
