"""POST /webhooks/braintree stores a notification only when Braintree's signature verifies.

The signature is "public_key|hex HMAC-SHA1(key=SHA1(private_key), bt_payload)"; it carries no
timestamp, so a replay is dropped by the inbox on kind + subject id + notification timestamp.
"""
from __future__ import annotations

import base64
from urllib.parse import urlencode

import pytest
from braintree.util.crypto import Crypto
from sqlalchemy import select

from app.extensions import db
from app.models import WebhookEvent
from tests.fakes.braintree.wiring import PRIVATE_KEY, PUBLIC_KEY, braintree_on

URL = "/webhooks/braintree"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def notification(kind: str = "dispute_opened", subject: str = "dp_sig_1",
                 timestamp: str = "2026-11-24T10:00:00Z") -> bytes:
    """A notification's bt_payload (base64 XML, wrapped like the SDK's) for a dispute."""
    xml = (f'<notification><timestamp type="datetime">{timestamp}</timestamp><kind>{kind}</kind>'
           f'<subject><dispute><id>{subject}</id><amount>10.00</amount><status>open</status>'
           f'<currency-iso-code>EUR</currency-iso-code></dispute></subject></notification>')
    return base64.encodebytes(xml.encode())


def signature(payload: bytes, public: str = PUBLIC_KEY, private: str = PRIVATE_KEY) -> str:
    return f"{public}|{Crypto.sha1_hmac_hash(private, payload)}"


def form(signature_value: str, payload: bytes) -> bytes:
    return urlencode({"bt_signature": signature_value, "bt_payload": payload}).encode()


def rows() -> list[WebhookEvent]:
    return db.session.execute(select(WebhookEvent).order_by(WebhookEvent.id)).scalars().all()


@pytest.fixture
def braintree(app, serve_wsgi):
    """The platform configured with a fake Braintree (its keys sign the notifications)."""
    with braintree_on(app, serve_wsgi) as (gateway, _url):
        yield gateway


def test_a_signed_notification_is_stored_with_kind_subject_and_time(client, braintree):
    payload = notification()
    response = client.post(URL, data=form(signature(payload), payload), headers=FORM)
    assert response.status_code == 200, response.get_data(as_text=True)
    [row] = rows()
    assert (row.provider, row.event_type, row.object_id) == ("braintree", "dispute_opened",
                                                             "dp_sig_1")
    assert row.event_id == "dispute_opened:dp_sig_1:2026-11-24T10:00:00Z"


def test_several_signature_pairs_pass_when_one_is_ours(client, braintree):
    payload = notification()
    pairs = f"{signature(payload, 'rotated_out', 'old')}&{signature(payload)}"
    assert client.post(URL, data=form(pairs, payload), headers=FORM).status_code == 200


@pytest.mark.parametrize("case", [
    "other public key", "our public key, other private key", "payload changed",
    "illegal characters", "missing signature", "missing payload", "empty signature",
    "no pipe", "JSON body", "signature of another payload"])
def test_bad_notifications_are_refused_and_nothing_is_stored(client, braintree, case):
    payload = notification()
    changed = notification(subject="dp_sig_2")
    body = {
        "other public key": form(signature(payload, "someone_else", PRIVATE_KEY), payload),
        "our public key, other private key": form(signature(payload, PUBLIC_KEY, "guess"),
                                                  payload),
        "payload changed": form(signature(payload), changed),
        "illegal characters": form(signature(payload + b"<"), payload + b"<"),
        "missing signature": urlencode({"bt_payload": payload}).encode(),
        "missing payload": urlencode({"bt_signature": signature(payload)}).encode(),
        "empty signature": form("", payload),
        "no pipe": form(Crypto.sha1_hmac_hash(PRIVATE_KEY, payload), payload),
        "JSON body": b'{"bt_signature": "x", "bt_payload": "y"}',
        "signature of another payload": form(signature(changed), payload),
    }[case]
    response = client.post(URL, data=body, headers=FORM)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_signature"
    assert rows() == []


def test_a_replay_is_answered_2xx_and_stored_once(client, braintree):
    payload = notification()
    body = form(signature(payload), payload)
    assert client.post(URL, data=body, headers=FORM).status_code == 200
    replay = client.post(URL, data=body, headers=FORM)
    assert replay.status_code == 200 and replay.get_json()["duplicate"] is True
    # The same notification re-encoded (the SDK accepts a trailing newline) is the same event.
    again = payload + b"\n"
    assert client.post(URL, data=form(signature(again), again), headers=FORM).get_json() \
        == {"received": True, "duplicate": True}
    assert len(rows()) == 1


def test_a_later_notification_about_the_same_dispute_is_a_new_event(client, braintree):
    for stamp in ("2026-11-24T10:00:00Z", "2026-11-24T10:00:01Z"):
        payload = notification(timestamp=stamp)
        assert client.post(URL, data=form(signature(payload), payload),
                           headers=FORM).status_code == 200
    won = notification(kind="dispute_won")
    assert client.post(URL, data=form(signature(won), won), headers=FORM).status_code == 200
    assert [r.event_id.split(":")[0] for r in rows()] == ["dispute_opened", "dispute_opened",
                                                          "dispute_won"]


def test_unconfigured_braintree_has_no_endpoint(client, app):
    payload = notification()
    assert client.post(URL, data=form(signature(payload), payload),
                       headers=FORM).status_code == 404
    assert rows() == []
