"""Braintree's card fields mode (Hosted Fields) and vaulted cards through the official SDK
against the fake: a client token authorizes the Hosted Fields frames (served by the fake) to
tokenize a card into a nonce; the nonce makes the sale, vaulting the card when asked; the vaulted
card's payment method token pays again."""
from __future__ import annotations

import base64
import json
import uuid

import pytest
import requests

from app.domain.payment_states import PaymentStatus
from app.providers.base import ProviderError
from app.providers.braintree import from_config
from tests.fakes.braintree.hosted_fields import SCRIPT_PATH
from tests.fakes.braintree.wiring import settings

S = PaymentStatus
VISA, DECLINED = "4111111111111111", "4000111111111115"


@pytest.fixture
def provider(bt):
    """The adapter configured as the platform configures it, Hosted Fields included."""
    return from_config(settings(bt.url))


def key() -> str:
    return f"hf_{uuid.uuid4().hex}"


def hosted_fields_nonce(bt, provider, number: str) -> str:
    """What the Hosted Fields frames do with the page's client token and a typed card."""
    token = json.loads(base64.b64decode(provider.client_token()))
    answer = requests.post(f"{bt.url}/hosted-fields/tokenize", timeout=5, json={
        "key": token["authorizationFingerprint"], "number": number, "expiry": "12 / 34",
        "cvc": "123"})
    assert answer.status_code == 200, answer.text
    return answer.json()["nonce"]


def test_hosted_fields_are_the_card_fields_mode_when_configured(bt, provider):
    fields = provider.card_fields()
    assert (fields.script_url, fields.library) == (f"{bt.url}{SCRIPT_PATH}", "braintree")
    assert provider.supported_modes() == ("embedded", "fields")
    # Only the card fields page runs that script: the Drop-in page's origins stay its own.
    assert provider.browser_origins().scripts == ()
    bare = from_config({k: v for k, v in settings(bt.url).items()
                        if k != "BRAINTREE_HOSTED_FIELDS_URL"})
    assert bare.card_fields() is None and bare.supported_modes() == ("embedded",)


def test_the_stand_in_script_and_frames_are_served_for_our_page_only(bt):
    script = requests.get(f"{bt.url}{SCRIPT_PATH}", timeout=5)
    assert script.headers["Access-Control-Allow-Origin"] == "*"
    assert "hostedFields" in script.text
    frame = requests.get(f"{bt.url}/hosted-fields/frame/number", timeout=5,
                         params={"origin": "http://127.0.0.1:9", "label": "Card number"})
    assert "frame-ancestors http://127.0.0.1:9" in frame.headers["Content-Security-Policy"]
    assert requests.get(f"{bt.url}/hosted-fields/frame/number", timeout=5,
                        params={"origin": "javascript:alert(1)"}).status_code == 400


def test_a_forged_authorization_tokenizes_nothing(bt):
    answer = requests.post(f"{bt.url}/hosted-fields/tokenize", timeout=5, json={
        "key": "forged", "number": VISA, "expiry": "12/34", "cvc": "123"})
    assert answer.status_code == 401


def test_a_hosted_fields_nonce_authorizes_once_and_saves_nothing_unasked(bt, provider):
    report = provider.authorize_nonce(key(), hosted_fields_nonce(bt, provider, VISA), 2500,
                                      "EUR")
    assert (report.status, report.amount_authorized, report.card.last4) == (
        S.AUTHORIZED, 2500, "1111")
    assert report.reusable_method is None and bt.fake.vault == {}


def test_a_declined_card_in_hosted_fields_is_an_executed_decline(bt, provider):
    with pytest.raises(ProviderError) as declined:
        provider.authorize_nonce(key(), hosted_fields_nonce(bt, provider, DECLINED), 2500,
                                 "EUR")
    assert (declined.value.executed, declined.value.decline_code) == (True, "generic_decline")


def test_a_saved_card_is_vaulted_and_its_token_pays_again(bt, provider):
    first = provider.authorize_nonce(key(), hosted_fields_nonce(bt, provider, VISA), 2500,
                                     "EUR", save=True)
    method = first.reusable_method
    assert method is not None and method.token in bt.fake.vault
    assert (method.brand, method.last4, method.exp_month, method.exp_year) == (
        "visa", "1111", 12, 2030)
    assert provider.saves_cards() and provider.saved_card_mode() == "embedded"

    reference = key()
    again = provider.authorize_vaulted(reference, method.token, 1800, "EUR")
    assert (again.status, again.amount_authorized) == (S.AUTHORIZED, 1800)
    sale = bt.fake.transactions[again.reference]
    assert sale["order_id"] == reference and sale["credit_card"]["token"] == method.token
    # The same reference again finds that sale instead of charging twice.
    assert provider.authorize_vaulted(reference, method.token, 1800, "EUR").reference \
        == again.reference
    assert bt.fake.executions[reference] == 1


def test_a_vaulted_card_the_bank_now_declines_and_an_unknown_token(bt, provider):
    first = provider.authorize_nonce(key(), hosted_fields_nonce(bt, provider, VISA), 2500,
                                     "EUR", save=True)
    token = first.reusable_method.token
    bt.fake.vault[token]["decline"] = ("2000", "Do Not Honor")
    with pytest.raises(ProviderError) as declined:
        provider.authorize_vaulted(key(), token, 2500, "EUR")
    assert (declined.value.executed, declined.value.decline_code) == (True, "generic_decline")
    with pytest.raises(ProviderError) as unknown:
        provider.authorize_vaulted(key(), "nosuchtoken", 2500, "EUR")
    assert unknown.value.executed is False
