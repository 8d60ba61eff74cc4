"""The sandbox's fraud facts, like Stripe's: a risk verdict per card (outcome.risk_level), the
card's issuing country, 3-D Secure on every card when the platform asks, and the declined card
named in the error."""
from __future__ import annotations

import pytest

from sandbox_psp import cards


@pytest.mark.parametrize("token, level, kind", [
    ("pm_card_visa", "normal", "authorized"),
    ("pm_card_riskLevelElevated", "elevated", "authorized"),
    ("pm_card_riskLevelHighest", "highest", "authorized"),
])
def test_each_authorized_card_carries_a_risk_verdict(api, token, level, kind):
    session = api.create_session()
    response = api.post(f"/payment_sessions/{session['id']}/authorize", {"payment_method": token})
    assert response.status_code == 200
    assert response.json["status"] == "authorized"
    assert response.json["outcome"]["risk_level"] == level
    assert response.json["outcome"]["type"] == kind


def test_the_always_blocked_card_is_declined_with_the_highest_risk(api):
    session = api.create_session()
    response = api.post(f"/payment_sessions/{session['id']}/authorize",
                        {"payment_method": "pm_card_radarBlock"})
    assert response.status_code == 402 and response.json["error"]["decline_code"] == "fraudulent"
    after = api.session(session["id"])
    assert after["outcome"] == {"risk_level": "highest", "risk_score": 95, "type": "blocked"}
    # Like Stripe's last_payment_error.payment_method: the card tried, display data only.
    tried = after["last_payment_error"]["payment_method"]
    assert tried["last4"] == "0019" and len(tried["fingerprint"]) == 16
    assert "4100000000000019" not in str(after)


def test_risk_cards_on_the_hosted_page(api):
    for number, level in (("4000000000009235", "elevated"), ("4000000000004954", "highest")):
        session = api.create_session()
        api.submit_card(session, number)
        assert api.session(session["id"])["outcome"]["risk_level"] == level


@pytest.mark.parametrize("token, country", [("pm_card_visa", "US"), ("pm_card_de", "DE"),
                                            ("pm_card_br", "BR"), ("pm_card_gb", "GB")])
def test_the_issuing_country_is_reported(api, token, country):
    session = api.create_session()
    api.post(f"/payment_sessions/{session['id']}/authorize", {"payment_method": token})
    assert api.session(session["id"])["payment_method"]["country"] == country


def test_three_d_secure_on_request_challenges_every_card(api):
    session = api.create_session(request_three_d_secure="any")
    assert session["request_three_d_secure"] == "any"
    response = api.post(f"/payment_sessions/{session['id']}/authorize",
                        {"payment_method": "pm_card_visa"})
    assert response.json["status"] == "requires_action"
    assert api.answer_challenge(session, "complete").status_code in (200, 303)
    assert api.session(session["id"])["status"] == "authorized"


def test_without_the_request_an_ordinary_card_is_not_challenged(api):
    session = api.create_session()
    assert session["request_three_d_secure"] == "automatic"
    response = api.post(f"/payment_sessions/{session['id']}/authorize",
                        {"payment_method": "pm_card_visa"})
    assert response.json["status"] == "authorized"


def test_an_unknown_three_d_secure_value_is_refused(api):
    response = api.post("/payment_sessions", {
        "amount": 100, "currency": "eur", "mode": "hosted", "return_url": api.RETURN_URL,
        "request_three_d_secure": "always"})
    assert response.status_code == 400
    assert response.json["error"]["param"] == "request_three_d_secure"


def test_risk_tables_cover_stripes_test_cards():
    assert cards.RISK_CARDS["4000000000009235"][0] == "elevated"
    assert cards.RISK_CARDS["4000000000004954"][0] == "highest"
    assert "4100000000000019" in cards.BLOCKED_CARDS
