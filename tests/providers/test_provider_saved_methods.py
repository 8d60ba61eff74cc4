"""The adapter's saved-card side: asking to save, the reusable method, authorize_saved."""
from __future__ import annotations

import re
import uuid

import pytest
import requests

from app.domain.payment_states import PaymentStatus
from app.providers.base import ProviderError, SessionRequest
from app.providers.registry import get_provider
from app.providers.sandbox import SandboxProvider, mapping
from tests.flows import buyer_pays

S = PaymentStatus
OTHER_KEY = "sk_test_not_the_platforms"


@pytest.fixture
def provider(app):
    return get_provider("sandbox")


def request_for(app, save: bool = False) -> SessionRequest:
    ref = f"saved-{uuid.uuid4().hex[:12]}"
    origin = app.config["PUBLIC_URL"].rstrip("/")
    return SessionRequest(reference=ref, amount=1500, currency="EUR", mode="hosted",
                          return_url=f"{origin}/checkout/1/return",
                          cancel_url=f"{origin}/checkout/1", parent_origin=origin,
                          idempotency_key=f"test-{ref}", save_payment_method=save)


def saved_token(provider, app, stack, pm="pm_card_visa") -> str:
    created = provider.create_session(request_for(app, save=True))
    assert buyer_pays(stack["psp_url"], created.reference, pm).status_code == 200
    method = provider.retrieve(created.reference).reusable_method
    assert method is not None
    return method.token


def test_saving_yields_a_reusable_method_with_display_data(provider, app, stack):
    created = provider.create_session(request_for(app, save=True))
    assert created.reusable_method is None  # nothing before the buyer pays
    buyer_pays(stack["psp_url"], created.reference)
    method = provider.retrieve(created.reference).reusable_method
    assert method.token.startswith("pm_")
    assert (method.brand, method.last4, method.exp_month) == ("visa", "4242", 12)
    assert method.fingerprint and method.token not in repr(method)  # kept out of logs


def test_without_asking_there_is_no_reusable_method(provider, app, stack):
    created = provider.create_session(request_for(app))
    buyer_pays(stack["psp_url"], created.reference)
    report = provider.retrieve(created.reference)
    assert report.status == S.AUTHORIZED and report.reusable_method is None


def test_authorize_saved_authorizes_without_capturing(provider, app, stack):
    token = saved_token(provider, app, stack)
    created = provider.create_session(request_for(app))
    report = provider.authorize_saved(created.reference, token, f"{created.reference}:saved")
    assert report.status == S.AUTHORIZED and report.amount_captured == 0
    assert report.card.last4 == "4242" and report.reusable_method.token == token
    again = provider.authorize_saved(created.reference, token, f"{created.reference}:saved")
    assert again.status == S.AUTHORIZED  # the same key replays, nothing runs twice


def test_a_saved_three_d_secure_card_asks_for_action(provider, app, stack):
    created = provider.create_session(request_for(app, save=True))
    buyer_pays(stack["psp_url"], created.reference, "pm_card_threeDSecure2Required")
    # The buyer passes the challenge on the sandbox's page.
    page = requests.get(f"{stack['psp_url']}/pay/{created.reference}/3ds", timeout=5)
    token_field = re.search(r'name="form_token" value="([^"]+)"', page.text).group(1)
    requests.post(f"{stack['psp_url']}/pay/{created.reference}/3ds", timeout=5,
                  data={"form_token": token_field, "outcome": "complete"}, allow_redirects=False)
    token = provider.retrieve(created.reference).reusable_method.token
    later = provider.create_session(request_for(app))
    report = provider.authorize_saved(later.reference, token, f"{later.reference}:saved")
    assert report.status == S.REQUIRES_ACTION
    assert report.redirect_url.endswith(f"/pay/{later.reference}")


def test_a_token_of_another_api_key_is_refused(provider, app, stack):
    token = saved_token(provider, app, stack)
    stranger = SandboxProvider(stack["psp_url"], OTHER_KEY, [])
    stack["psp"].config["SANDBOX_API_KEYS"].append(OTHER_KEY)
    try:
        created = stranger.create_session(request_for(app))
        with pytest.raises(ProviderError) as refused:
            stranger.authorize_saved(created.reference, token, f"{created.reference}:saved")
    finally:
        stack["psp"].config["SANDBOX_API_KEYS"].remove(OTHER_KEY)
    assert refused.value.code == "resource_missing" and refused.value.status == 400
    assert refused.value.executed is False and not refused.value.retryable


def test_mapping_exposes_a_method_only_when_it_has_an_id():
    session = {"id": "ps_1", "status": "authorized", "amount": 100, "currency": "eur",
               "payment_method": {"brand": "visa", "last4": "4242", "exp_month": 1,
                                  "exp_year": 2030, "fingerprint": "ab"}}
    assert mapping.to_provider_payment(session).reusable_method is None
    session["payment_method"]["id"] = "pm_abc"
    method = mapping.to_provider_payment(session).reusable_method
    assert (method.token, method.exp_year, method.fingerprint) == ("pm_abc", 2030, "ab")
