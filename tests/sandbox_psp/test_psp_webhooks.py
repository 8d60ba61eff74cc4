"""Webhooks: signed, sent by the deliverer (never in the request), retried with backoff; expiry."""
import hashlib
import hmac
import json
import socket
import time

import pytest

from sandbox_psp import deliver_due, start_deliverer
from sandbox_psp.models import Delivery, db
from tests.flows import eventually


def verify(header: str, body: bytes, secret: str) -> bool:
    """The documented scheme, written independently of the sandbox's code."""
    fields = dict(part.split("=", 1) for part in header.split(","))
    expected = hmac.new(secret.encode(), f"{fields['t']}.".encode() + body, hashlib.sha256).hexdigest()
    return abs(time.time() - int(fields["t"])) < 300 and hmac.compare_digest(expected, fields["v1"])


def deliveries(app):
    with app.app_context():
        rows = db.session.scalars(db.select(Delivery).order_by(Delivery.id)).all()
        return [{"status": d.status, "next": d.next_attempt_at, "type": d.event.type,
                 "attempts": [(a.status_code, a.error) for a in d.attempts]} for d in rows]


def test_events_are_sent_by_the_deliverer_not_the_request(app, api, receiver):
    session = api.authorized_session()
    assert receiver.requests == []
    assert deliver_due(app) == 1
    [event] = receiver.events()
    assert event["type"] == "payment_session.authorized" and event["object"] == "event"
    assert event["data"]["object"]["id"] == session["id"]
    assert event == api.get(f"/events/{event['id']}").json
    assert deliver_due(app) == 0


def test_signature_verifies_with_the_documented_scheme(app, api, receiver):
    api.authorized_session()
    deliver_due(app)
    [request] = receiver.requests
    header = request["headers"]["Sandbox-Signature"]
    assert header.startswith("t=") and ",v1=" in header
    assert request["headers"]["Content-Type"] == "application/json"
    assert verify(header, request["body"], api.WEBHOOK_SECRET)
    assert not verify(header, request["body"], "whsec_wrong")
    assert not verify(header, request["body"].replace(b"authorized", b"captured"), api.WEBHOOK_SECRET)


def test_failures_are_retried_with_exponential_backoff_until_2xx(app, api, receiver):
    receiver.script = [500, 503]
    api.authorized_session()
    start = time.time()
    deliver_due(app, now=start)
    first = deliveries(app)[0]
    assert first["attempts"] == [(500, None)] and first["status"] == "pending"
    first_delay = first["next"] - start
    assert 1.5 <= first_delay <= 2.5  # base 2 s, ±25 % jitter
    assert deliver_due(app, now=start + 1) == 0  # not due yet
    deliver_due(app, now=start + 3)
    second = deliveries(app)[0]
    second_delay = second["next"] - (start + 3)
    assert 3.0 <= second_delay <= 5.0 and second_delay > first_delay
    deliver_due(app, now=start + 10)
    done = deliveries(app)[0]
    assert done["status"] == "succeeded" and done["next"] is None
    assert [code for code, _ in done["attempts"]] == [500, 503, 200]
    assert len(receiver.requests) == 3
    assert len({r["body"] for r in receiver.requests}) == 1  # the same event every time


def test_delivery_gives_up_after_max_attempts(app, api, receiver):
    receiver.script = [500] * 10
    api.authorized_session()
    at = time.time()
    for _ in range(6):
        at += 1000
        deliver_due(app, now=at)
    [delivery] = deliveries(app)
    assert delivery["status"] == "failed" and len(delivery["attempts"]) == 4


def test_transport_errors_are_recorded(app, api):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app.config["SANDBOX_WEBHOOK_URL"] = f"http://127.0.0.1:{port}/hook"
    api.authorized_session()
    deliver_due(app)
    [delivery] = deliveries(app)
    [(code, error)] = delivery["attempts"]
    assert code is None and "ConnectionError" in error and delivery["status"] == "pending"


def test_without_a_webhook_url_events_are_only_recorded(app, api, receiver):
    app.config["SANDBOX_WEBHOOK_URL"] = ""
    api.authorized_session()
    assert deliver_due(app) == 0 and receiver.requests == []
    assert api.event_types() == ["payment_session.authorized"]


def test_expiry_emits_an_event_and_closes_the_pages(app, api, client, receiver):
    session = api.create_session(expires_in=60)
    paid = api.authorized_session()
    deliver_due(app, now=session["expires_at"] - 1)
    assert api.session(session["id"])["status"] == "open"
    deliver_due(app, now=session["expires_at"])
    assert api.session(session["id"])["status"] == "expired"
    assert api.session(paid["id"])["status"] == "authorized"
    assert [e["type"] for e in receiver.events()] == ["payment_session.authorized", "payment_session.expired"]
    assert "expired" in client.get(f"/pay/{session['id']}").text
    response = api.post(f"/payment_sessions/{session['id']}/authorize", {"payment_method": "pm_card_visa"})
    assert response.status_code == 409


def test_a_payment_after_expires_at_expires_the_session_instead(app, api):
    from sandbox_psp.models import PaymentSession

    session = api.create_session(expires_in=60)
    with app.app_context():  # its hour has passed (moved, not slept, so load cannot matter)
        db.session.get(PaymentSession, session["id"]).expires_at = int(time.time()) - 1
        db.session.commit()
    response = api.post(f"/payment_sessions/{session['id']}/authorize", {"payment_method": "pm_card_visa"})
    assert response.status_code == 409
    assert api.session(session["id"])["status"] == "expired"
    assert api.event_types() == ["payment_session.expired"]


def test_dashboard_lists_payments_and_every_attempt(app, api, client, receiver):
    receiver.script = [500]
    session = api.authorized_session(client_reference_id="order-55")
    deliver_due(app)
    page = client.get("/").text
    assert session["id"] in page and "order-55" in page and "visa •••• 4242" in page
    assert "payment_session.authorized" in page and "— 500" in page
    deliver_due(app, now=time.time() + 100)
    page = client.get("/").text
    assert "succeeded" in page and "— 200" in page


def test_background_deliverer_sends_and_stops(app, api, receiver):
    deliverer = start_deliverer(app, interval=0.05)
    try:
        api.authorized_session()
        eventually(lambda: receiver.requests)  # as soon as it arrives; 30 s only bounds a hang
        assert [e["type"] for e in receiver.events()] == ["payment_session.authorized"]
    finally:
        deliverer.stop()
    assert not deliverer.is_alive()


@pytest.mark.parametrize("attempt, low, high", [(1, 1.5, 2.5), (2, 3.0, 5.0), (3, 6.0, 10.0)])
def test_retry_delay_doubles(attempt, low, high):
    from sandbox_psp.webhooks import retry_delay
    assert all(low <= retry_delay(attempt, 2) <= high for _ in range(50))


def test_webhook_body_is_the_event_json(app, api, receiver):
    api.authorized_session()
    deliver_due(app)
    body = receiver.requests[0]["body"]
    assert json.loads(body)["data"]["object"]["status"] == "authorized"
