"""POST /webhooks/<provider>: one route for every PSP; a provider without keys here answers 404.

Signatures, replays and storage are tested per provider in tests/security/test_sec_*_signatures.py.
"""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import WebhookEvent


def test_one_route_serves_every_provider(app):
    rules = [r.rule for r in app.url_map.iter_rules() if r.endpoint.startswith("webhooks.")]
    assert rules == ["/webhooks/<provider>"]


def test_a_configured_provider_reaches_its_adapter(client):
    response = client.post("/webhooks/sandbox", data=b"{}")
    assert response.status_code == 400  # its adapter checked the (missing) signature
    assert response.get_json()["error"]["code"] == "invalid_signature"


# The test settings configure only the sandbox.
@pytest.mark.parametrize("provider", ["sandbox_us", "stripe", "braintree", "nope"])
def test_a_provider_not_configured_here_answers_404_and_stores_nothing(client, provider):
    response = client.post(f"/webhooks/{provider}", data=b"{}")
    assert response.status_code == 404 and response.is_json
    assert db.session.execute(select(func.count()).select_from(WebhookEvent)).scalar() == 0
