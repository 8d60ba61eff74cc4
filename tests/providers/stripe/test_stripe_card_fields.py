"""Stripe's card fields mode and saved cards through the official SDK against the fake: the split
Card Element makes a PaymentMethod in the browser (here: the fake's browser endpoint, as
stripe.js calls it), our server confirms the PaymentIntent with it (3-D Secure, declines), and a
card saved on a Customer pays again off-session, or on-session when the bank wants the buyer."""
from __future__ import annotations

import pytest
import requests

from app.domain.payment_states import PaymentStatus
from app.providers.base import ProviderError
from app.providers.stripe import StripeProvider
from tests.providers.stripe.conftest import API_KEY, WEBHOOK_SECRET, key, session_request

S = PaymentStatus
VISA, THREE_DS, DECLINED = "4242424242424242", "4000002760003184", "4000000000000002"


@pytest.fixture
def provider(fake) -> StripeProvider:
    """The adapter with a publishable key: it offers card fields."""
    return StripeProvider(API_KEY, [WEBHOOK_SECRET], api_base=fake.public_url,
                          js_url=f"{fake.public_url}/v3/", publishable_key=fake.publishable_key)


def payment_method(fake, number: str) -> str:
    """What stripe.js's createPaymentMethod gets from Stripe for a card typed in its frames."""
    answer = requests.post(f"{fake.public_url}/elements/payment_methods", timeout=5, json={
        "key": fake.publishable_key, "number": number, "expiry": "12/34", "cvc": "123"})
    assert answer.status_code == 200, answer.text
    return answer.json()["id"]


def fields_session(provider, save: bool = False):
    request = session_request(mode="fields")
    if save:
        from dataclasses import replace
        request = replace(request, save_payment_method=True)
    return request, provider.create_session(request)


def test_card_fields_are_offered_only_with_a_publishable_key(fake, provider, stripe_provider):
    fields = provider.card_fields()
    assert (fields.script_url, fields.publishable_key, fields.library) == (
        f"{fake.public_url}/v3/", "pk_test_fake", "stripe")
    assert "fields" in provider.supported_modes()
    assert stripe_provider.card_fields() is None
    assert "fields" not in stripe_provider.supported_modes()


def test_a_fields_payment_is_a_payment_intent_confirmed_from_our_server(fake, provider):
    request, session = fields_session(provider)
    assert session.reference.startswith("pi_") and session.status == S.PROCESSING
    intent = fake.objects[session.reference]
    assert intent["metadata"]["holdfast_return_url"] == request.return_url

    report = provider.authorize_token(session.reference, payment_method(fake, VISA), key())
    assert (report.status, report.amount_authorized) == (S.AUTHORIZED, 2500)
    assert (report.card.last4, report.card.exp_month, report.card.exp_year) == ("4242", 12, 2034)
    assert fake.objects[session.reference]["status"] == "requires_capture"
    assert report.reusable_method is None  # the buyer did not ask to save it

    captured = provider.capture(session.reference, 2500, key())
    assert captured.status == S.CAPTURED and captured.fee_amount == 2500 * 290 // 10_000 + 30


def test_3d_secure_sends_the_buyer_to_the_challenge_and_back_to_our_return_page(fake, provider):
    request, session = fields_session(provider)
    report = provider.authorize_token(session.reference, payment_method(fake, THREE_DS), key())
    assert report.status == S.REQUIRES_ACTION
    assert report.redirect_url == f"{fake.public_url}/elements/3ds/{session.reference}"
    passed = requests.post(report.redirect_url, data={"outcome": "pass"}, timeout=5,
                           allow_redirects=False)
    assert passed.status_code == 303
    assert passed.headers["Location"].startswith(request.return_url + "?payment_intent=")
    assert provider.retrieve(session.reference).status == S.AUTHORIZED


def test_a_decline_is_an_executed_error_and_another_card_then_pays(fake, provider):
    _, session = fields_session(provider)
    with pytest.raises(ProviderError) as declined:
        provider.authorize_token(session.reference, payment_method(fake, DECLINED), key())
    assert (declined.value.executed, declined.value.decline_code) == (True, "generic_decline")
    assert provider.retrieve(session.reference).status == S.DECLINED
    report = provider.authorize_token(session.reference, payment_method(fake, VISA), key())
    assert report.status == S.AUTHORIZED


def test_the_same_token_and_key_twice_authorize_once(fake, provider):
    _, session = fields_session(provider)
    token, once = payment_method(fake, VISA), key()
    first = provider.authorize_token(session.reference, token, once)
    again = provider.authorize_token(session.reference, token, once)
    assert first.status == again.status == S.AUTHORIZED
    charges = [o for o in fake.objects.values() if o["object"] == "charge"
               and o["payment_intent"] == session.reference]
    assert len(charges) == 1


def test_a_token_that_is_not_a_payment_method_is_refused_before_stripe(fake, provider):
    _, session = fields_session(provider)
    with pytest.raises(ProviderError) as refused:
        provider.authorize_token(session.reference, "tok_visa", key())
    assert (refused.value.code, refused.value.executed) == ("resource_missing", False)


def saved_card(fake, provider, number: str = VISA) -> str:
    """Pay once with "Save my card": the reusable method's token."""
    _, session = fields_session(provider, save=True)
    report = provider.authorize_token(session.reference, payment_method(fake, number), key())
    if report.status == S.REQUIRES_ACTION:
        requests.post(report.redirect_url, data={"outcome": "pass"}, timeout=5,
                      allow_redirects=False)
        report = provider.retrieve(session.reference)
    method = report.reusable_method
    assert method is not None and report.status == S.AUTHORIZED
    return method


def test_a_saved_card_is_attached_to_a_customer_and_pays_again_off_session(fake, provider):
    method = saved_card(fake, provider)
    customer, _, pm = method.token.partition("/")
    assert customer.startswith("cus_") and fake.objects[pm]["customer"] == customer
    assert (method.brand, method.last4, method.exp_month, method.exp_year) == (
        "visa", "4242", 12, 2034)
    assert provider.saves_cards() and provider.saved_card_mode() == "fields"

    _, second = fields_session(provider)
    report = provider.authorize_saved(second.reference, method.token, key())
    assert (report.status, report.card.last4) == (S.AUTHORIZED, "4242")
    intent = fake.objects[second.reference]
    assert (intent["customer"], intent["payment_method"]) == (customer, pm)
    confirms = [c for c in fake.calls if c[1].endswith(f"{second.reference}/confirm")]
    assert len(confirms) == 1  # off-session, no buyer needed


def test_off_session_requires_action_brings_the_buyer_back_on_session(fake, provider):
    method = saved_card(fake, provider, THREE_DS)
    request, second = fields_session(provider)
    report = provider.authorize_saved(second.reference, method.token, key())
    # Off-session the bank said authentication_required; on-session it sends a challenge.
    assert report.status == S.REQUIRES_ACTION
    failed = [e for e in fake.events_of("payment_intent.payment_failed")
              if e["data"]["object"]["id"] == second.reference]
    assert failed[0]["data"]["object"]["last_payment_error"]["code"] == "authentication_required"
    passed = requests.post(report.redirect_url, data={"outcome": "pass"}, timeout=5,
                           allow_redirects=False)
    assert passed.headers["Location"].startswith(request.return_url)
    assert provider.retrieve(second.reference).status == S.AUTHORIZED


def test_a_saved_card_declined_off_session_raises_the_decline(fake, provider):
    method = saved_card(fake, provider)
    fake.extras[method.token.partition("/")[2]]["number"] = DECLINED  # the card lapsed
    _, second = fields_session(provider)
    with pytest.raises(ProviderError) as declined:
        provider.authorize_saved(second.reference, method.token, key())
    assert (declined.value.executed, declined.value.decline_code) == (True, "generic_decline")


def test_a_token_that_is_not_a_saved_stripe_card_is_refused(fake, provider):
    _, session = fields_session(provider)
    with pytest.raises(ProviderError) as refused:
        provider.authorize_saved(session.reference, "pm_only", key())
    assert refused.value.executed is False


@pytest.mark.parametrize("mode", ["hosted", "embedded"])
def test_save_my_card_on_the_hosted_page_and_the_payment_element_saves_it_too(
        fake, provider, mode):
    """saves_cards() is True for every mode, so each must really save the card."""
    from dataclasses import replace

    from tests.fakes.stripe.checkout import pay
    from tests.fakes.stripe.controls import confirm_element

    request = replace(session_request(mode=mode), save_payment_method=True)
    session = provider.create_session(request)
    if mode == "hosted":
        assert fake.extras[session.reference]["customer_creation"] == "always"
        with fake.lock:
            assert pay(fake, fake.objects[session.reference], VISA) is None
    else:
        confirm_element(fake, session.reference, VISA)
    method = provider.retrieve(session.reference).reusable_method
    assert method is not None and method.last4 == "4242"
    customer, _, pm = method.token.partition("/")
    assert fake.objects[pm]["customer"] == customer

    _, second = fields_session(provider)
    assert provider.authorize_saved(second.reference, method.token, key()).status \
        == S.AUTHORIZED
