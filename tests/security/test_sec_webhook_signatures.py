"""The webhook endpoint stores an event only when its signature, body and time all check out."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from app import clock
from app.extensions import db
from app.models import WebhookEvent
from app.providers.sandbox.webhooks import HEADER, sign

pytestmark = pytest.mark.usefixtures("whole_second")


URL = "/webhooks/sandbox"


def _now() -> int:
    """The frozen second (see the whole_second fixture in conftest.py)."""
    return int(clock.timestamp())


def _event(event_id: str = "evt_sig_1") -> bytes:
    return json.dumps({"id": event_id, "type": "payment_session.updated", "created": 1,
                       "data": {"object": {"id": "ps_not_ours", "status": "open"}}}).encode()


def _rows() -> int:
    return db.session.execute(select(func.count()).select_from(WebhookEvent)).scalar()


def _post(client, raw: bytes, header: str | None):
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers[HEADER] = header
    return client.post(URL, data=raw, headers=headers)


@pytest.fixture
def secret(app) -> str:
    return app.config["SANDBOX_WEBHOOK_SECRET"]


def _one_byte_changed(raw: bytes) -> bytes:
    return raw.replace(b"updated", b"updatee")


@pytest.mark.parametrize("case", [
    "missing header", "empty header", "malformed header", "no v1", "wrong secret",
    "body changed by one byte", "older than tolerance", "far future", "signature of empty body",
])
def test_bad_signatures_are_refused_and_nothing_is_stored(client, secret, case):
    raw, now = _event(), _now()
    header = {
        "missing header": None,
        "empty header": "",
        "malformed header": "garbage",
        "no v1": f"t={now}",
        "wrong secret": sign("whsec_someone_else_entirely", raw, now),
        "body changed by one byte": sign(secret, raw, now),
        "older than tolerance": sign(secret, raw, now - 301),
        "far future": sign(secret, raw, now + 301),
        "signature of empty body": sign(secret, b"", now),
    }[case]
    body = _one_byte_changed(raw) if case == "body changed by one byte" else raw
    response = _post(client, body, header)
    assert response.status_code == 400, case
    assert response.get_json()["error"]["code"] == "invalid_signature"
    assert _rows() == 0


def test_tolerance_comes_from_config(client, secret, app):
    assert app.config["WEBHOOK_TOLERANCE_SECONDS"] == 300
    raw = _event()
    assert _post(client, raw, sign(secret, raw, _now() - 290)).status_code == 200


def test_valid_signature_stores_exactly_one_row(client, secret):
    raw = _event()
    response = _post(client, raw, sign(secret, raw, _now()))
    assert response.status_code == 200
    assert response.get_json() == {"received": True}
    row = db.session.execute(select(WebhookEvent)).scalar_one()
    assert (row.provider, row.event_id, row.object_id) == ("sandbox", "evt_sig_1", "ps_not_ours")
    assert row.payload == raw.decode()
    assert row.status == "received"


def test_the_same_event_again_is_a_duplicate(client, secret):
    raw = _event()
    header = sign(secret, raw, _now())
    assert _post(client, raw, header).status_code == 200
    again = _post(client, raw, header)
    assert again.status_code == 200
    assert again.get_json()["duplicate"] is True
    # A redelivery is signed afresh but carries the same event id.
    resigned = _post(client, raw, sign(secret, raw, _now() + 1))
    assert resigned.status_code == 200 and resigned.get_json()["duplicate"] is True
    assert _rows() == 1


def test_two_v1_values_one_matching_is_accepted(client, secret):
    """During a secret rotation the PSP signs with both the old and the new secret."""
    raw, now = _event(), _now()
    good = sign(secret, raw, now).split("v1=")[1]
    old = sign("whsec_retired_secret_value", raw, now).split("v1=")[1]
    for header in (f"t={now},v1={old},v1={good}", f"t={now},v1={good},v1={old}"):
        assert _post(client, raw, header).status_code == 200
    assert _rows() == 1


def test_two_v1_values_neither_matching_is_refused(client, secret):
    raw, now = _event(), _now()
    one = sign("whsec_first_wrong_value", raw, now).split("v1=")[1]
    two = sign("whsec_second_wrong_value", raw, now).split("v1=")[1]
    assert _post(client, raw, f"t={now},v1={one},v1={two}").status_code == 400
    assert _rows() == 0


def test_the_previous_secret_still_verifies_during_rotation(client, app, monkeypatch):
    from app.providers.registry import get_provider

    get_provider("sandbox")  # make sure the cached adapter exists, so monkeypatch restores it
    monkeypatch.setitem(app.config, "SANDBOX_WEBHOOK_SECRET_PREVIOUS", "whsec_previous_secret_1")
    monkeypatch.delitem(app.extensions["holdfast_providers"], "sandbox")
    raw = _event()
    response = _post(client, raw, sign("whsec_previous_secret_1", raw, _now()))
    assert response.status_code == 200
    assert _rows() == 1


def test_signed_garbage_is_refused(client, secret):
    for raw in (b"not json", b"[]", b'{"id": "evt_x"}'):
        response = _post(client, raw, sign(secret, raw, _now()))
        assert response.status_code == 400
    assert _rows() == 0
