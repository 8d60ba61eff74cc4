"""POST /webhooks/stripe stores an event only when Stripe's signature, body and time check out
(reference §6), accepts every configured secret while one is rotated, and dedupes replays."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from app import clock
from app.extensions import db
from app.models import WebhookEvent
from app.providers.stripe import StripeProvider
from tests.fakes.stripe import sign

pytestmark = pytest.mark.usefixtures("whole_second")


URL = "/webhooks/stripe"
CURRENT, PREVIOUS = "whsec_sig_current", "whsec_sig_previous"


@pytest.fixture
def stripe_on(app):
    """Stripe configured with two endpoint secrets (a rotation in progress)."""
    cache = app.extensions.setdefault("holdfast_providers", {})
    cache["stripe"] = StripeProvider("sk_test_sig", [CURRENT, PREVIOUS],
                                     api_base="http://127.0.0.1:9", timeout=1.0,
                                     webhook_tolerance=app.config["WEBHOOK_TOLERANCE_SECONDS"])
    yield
    cache.pop("stripe", None)


def _now() -> int:
    """The frozen second (see the whole_second fixture in conftest.py)."""
    return int(clock.timestamp())


def _event(event_id: str = "evt_sig_1", event_type: str = "checkout.session.completed") -> bytes:
    return json.dumps({"id": event_id, "object": "event", "type": event_type, "created": 1,
                       "api_version": "2025-01-27", "livemode": False,
                       "data": {"object": {"id": "cs_test_not_ours",
                                           "object": "checkout.session",
                                           "status": "complete"}}}).encode()


def _rows() -> int:
    return db.session.execute(select(func.count()).select_from(WebhookEvent)).scalar()


def _post(client, raw: bytes, header: str | None):
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers["Stripe-Signature"] = header
    return client.post(URL, data=raw, headers=headers)


def _two_v1(raw: bytes, now: int, first: str, second: str) -> str:
    one, two = sign(first, raw, now), sign(second, raw, now)
    return f"{one},{two.split(',', 1)[1]}"


@pytest.mark.parametrize("case", [
    "missing header", "empty header", "garbled header", "no v1", "wrong secret",
    "body changed by one byte", "re-serialized JSON", "older than tolerance", "far future",
    "signature of empty body", "two v1 both wrong", "signature hex truncated",
])
def test_bad_signatures_are_refused_and_nothing_is_stored(client, stripe_on, case):
    raw, now = _event(), _now()
    reserialized = json.dumps(json.loads(raw), indent=2).encode()
    header = {
        "missing header": None,
        "empty header": "",
        "garbled header": "t=abc,v1=\x00zz,,==",
        "no v1": f"t={now}",
        "wrong secret": sign("whsec_someone_else", raw, now),
        "body changed by one byte": sign(CURRENT, raw, now),
        "re-serialized JSON": sign(CURRENT, raw, now),
        "older than tolerance": sign(CURRENT, raw, now - 301),
        "far future": sign(CURRENT, raw, now + 301),
        "signature of empty body": sign(CURRENT, b"", now),
        "two v1 both wrong": _two_v1(raw, now, "whsec_a", "whsec_b"),
        "signature hex truncated": sign(CURRENT, raw, now)[:-2],
    }[case]
    body = {"body changed by one byte": raw.replace(b"complete", b"completf"),
            "re-serialized JSON": reserialized}.get(case, raw)
    response = _post(client, body, header)
    assert response.status_code == 400, case
    assert response.get_json()["error"]["code"] == "invalid_signature"
    assert _rows() == 0


@pytest.mark.parametrize("secret", [CURRENT, PREVIOUS])
def test_each_configured_secret_verifies_during_rotation(client, stripe_on, secret):
    raw = _event()
    assert _post(client, raw, sign(secret, raw, _now())).status_code == 200
    assert _rows() == 1


def test_two_v1_values_pass_when_one_matches(client, stripe_on):
    raw, now = _event(), _now()
    # Stripe signs with the new and the old secret while both are live.
    response = _post(client, raw, _two_v1(raw, now, "whsec_not_configured", PREVIOUS))
    assert response.status_code == 200


def test_within_tolerance_is_accepted(client, stripe_on):
    raw = _event()
    assert _post(client, raw, sign(CURRENT, raw, _now() - 290)).status_code == 200


def test_replay_within_tolerance_is_deduplicated(client, stripe_on):
    raw, now = _event(), _now()
    first = _post(client, raw, sign(CURRENT, raw, now))
    replay = _post(client, raw, sign(CURRENT, raw, now + 5))
    assert first.get_json() == {"received": True}
    assert replay.status_code == 200 and replay.get_json()["duplicate"] is True
    row = db.session.execute(select(WebhookEvent)).scalar_one()
    assert (row.provider, row.event_id, row.object_id, row.payload) == (
        "stripe", "evt_sig_1", "cs_test_not_ours", raw.decode())


def test_an_event_type_we_do_not_know_is_recorded_and_ignored(client, stripe_on):
    from app.services import webhooks

    raw = _event("evt_unknown", "customer.subscription.trial_will_end")
    assert _post(client, raw, sign(CURRENT, raw, _now())).status_code == 200
    row = db.session.execute(select(WebhookEvent)).scalar_one()
    webhooks.process(row.id)
    db.session.refresh(row)
    assert row.status == "ignored"


def test_endpoint_is_absent_when_stripe_is_not_configured(client, app):
    assert not app.config.get("STRIPE_SECRET_KEY")
    raw = _event()
    assert _post(client, raw, sign(CURRENT, raw, _now())).status_code == 404
    assert _rows() == 0
