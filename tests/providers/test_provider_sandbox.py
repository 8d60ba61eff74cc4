"""The SandboxProvider adapter against the live sandbox PSP, and against servers that misbehave."""
from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from dataclasses import replace

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Response

from app.domain.declines import DEFAULT_DECLINE_MESSAGE
from app.domain.payment_states import PaymentStatus
from app.providers.base import (
    EventKind,
    InvalidSignature,
    ProviderError,
    ProviderEvent,
    ProviderTimeout,
    SessionRequest,
)
from app.providers.registry import get_provider
from app.providers.sandbox import SandboxProvider, mapping
from app.providers.sandbox.webhooks import HEADER, sign
from tests.flows import API_KEY, buyer_pays, closed_port_url, psp_call

S = PaymentStatus


@pytest.fixture
def provider(app):
    """The app's configured sandbox adapter, speaking to the live sandbox."""
    return get_provider("sandbox")


def session_request(app, mode: str = "hosted", amount: int = 2500, **changes) -> SessionRequest:
    """A fresh request with a reference and key no other test uses."""
    ref = f"prov-{uuid.uuid4().hex[:12]}"
    origin = app.config["PUBLIC_URL"].rstrip("/")
    request = SessionRequest(reference=ref, amount=amount, currency="EUR", mode=mode,
                             return_url=f"{origin}/checkout/1/return",
                             cancel_url=f"{origin}/checkout/1", parent_origin=origin,
                             idempotency_key=f"test-{ref}")
    return replace(request, **changes)


def stats(psp_url: str) -> dict:
    """Executions per idempotency key at the sandbox."""
    return psp_call(psp_url, "GET", "/v1/_stats").json()["executions"]


def authorized_session(provider, app, psp_url, **changes):
    created = provider.create_session(session_request(app, **changes))
    assert buyer_pays(psp_url, created.reference).status_code == 200
    return created


@pytest.fixture
def tiny_server():
    """Start a throw-away WSGI app on loopback; returns a function app → base URL."""
    servers = []

    def start(wsgi):
        server = make_server("127.0.0.1", 0, wsgi, threaded=True)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.port}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


# --- the live sandbox ---------------------------------------------------------------------

def test_create_hosted_session_is_processing_with_a_pay_url(provider, app, stack):
    request = session_request(app, "hosted", amount=1234)
    created = provider.create_session(request)

    assert created.reference.startswith("ps_")
    assert created.status == S.PROCESSING and created.raw_status == "open"
    assert created.redirect_url == f"{stack['psp_url']}/pay/{created.reference}"
    assert (created.amount, created.currency) == (1234, "EUR")
    assert created.amount_authorized == created.amount_captured == 0
    raw = psp_call(stack["psp_url"], "GET", f"/v1/payment_sessions/{created.reference}").json()
    assert raw["capture_method"] == "manual"  # the platform captures, never the PSP by itself
    assert raw["client_reference_id"] == request.reference


def test_create_embedded_session_has_an_embed_url(provider, app, stack):
    created = provider.create_session(session_request(app, "embedded"))

    assert created.status == S.PROCESSING
    assert created.embed_url == f"{stack['psp_url']}/embed/{created.reference}"
    raw = psp_call(stack["psp_url"], "GET", f"/v1/payment_sessions/{created.reference}").json()
    assert raw["mode"] == "embedded"
    assert raw["parent_origin"] == app.config["PUBLIC_URL"].rstrip("/")


def test_retrieve_and_find_by_reference(provider, app, stack):
    request = session_request(app)
    created = provider.create_session(request)

    assert provider.retrieve(created.reference) == created
    found = provider.find_by_reference(request.reference)
    assert found is not None and found.reference == created.reference
    assert provider.find_by_reference(f"never-{uuid.uuid4().hex}") is None


def test_retrieve_unknown_session_is_a_final_refusal(provider):
    with pytest.raises(ProviderError) as caught:
        provider.retrieve("ps_does_not_exist")
    assert caught.value.status == 404 and caught.value.code == "resource_missing"
    assert caught.value.retryable is False


def test_cancel_open_session(provider, app):
    created = provider.create_session(session_request(app))

    cancelled = provider.cancel(created.reference, f"cancel-{created.reference}")

    assert cancelled.status == S.CANCELLED and cancelled.raw_status == "canceled"
    assert provider.retrieve(created.reference).status == S.CANCELLED


def test_cancel_never_voids_an_authorization(provider, app, stack):
    created = authorized_session(provider, app, stack["psp_url"])

    with pytest.raises(ProviderError) as caught:
        provider.cancel(created.reference, f"cancel-{created.reference}")

    assert caught.value.status == 409 and caught.value.retryable is False
    assert provider.retrieve(created.reference).status == S.AUTHORIZED


def test_capture_in_full(provider, app, stack):
    created = authorized_session(provider, app, stack["psp_url"], amount=2400)
    assert provider.retrieve(created.reference).status == S.AUTHORIZED

    captured = provider.capture(created.reference, 2400, f"capture-{created.reference}")

    assert captured.status == S.CAPTURED
    assert (captured.amount_authorized, captured.amount_captured) == (2400, 2400)
    assert captured.fee_amount == (2400 * 290 + 5000) // 10000 + 30  # hosted: 2.9 % + 30
    assert (captured.card.brand, captured.card.last4) == ("visa", "4242")


def test_partial_capture(provider, app, stack):
    created = authorized_session(provider, app, stack["psp_url"], amount=5000)

    captured = provider.capture(created.reference, 3000, f"capture-{created.reference}")

    assert captured.status == S.CAPTURED
    assert (captured.amount_authorized, captured.amount_captured) == (5000, 3000)


def test_capture_more_than_authorized_is_refused(provider, app, stack):
    created = authorized_session(provider, app, stack["psp_url"], amount=1000)

    with pytest.raises(ProviderError) as caught:
        provider.capture(created.reference, 1001, f"capture-{created.reference}")

    assert caught.value.status == 400 and caught.value.code == "amount_too_large"
    assert caught.value.retryable is False
    assert provider.retrieve(created.reference).status == S.AUTHORIZED


def test_void_releases_the_authorization(provider, app, stack):
    created = authorized_session(provider, app, stack["psp_url"])

    voided = provider.void(created.reference, f"void-{created.reference}")

    assert voided.status == S.CANCELLED
    assert voided.amount_captured == 0


def test_decline_maps_to_declined_with_code_and_buyer_message(provider, app, stack):
    created = provider.create_session(session_request(app))
    answer = buyer_pays(stack["psp_url"], created.reference,
                        "pm_card_chargeDeclinedInsufficientFunds")
    assert answer.status_code == 402

    report = provider.retrieve(created.reference)

    assert report.status == S.DECLINED and report.raw_status == "open"
    assert report.decline_code == "insufficient_funds"
    assert report.failure_message == "Your card has insufficient funds. Please try another card."


def test_a_402_from_the_api_is_executed_and_carries_the_decline_code(provider, app):
    created = provider.create_session(session_request(app))

    with pytest.raises(ProviderError) as caught:
        provider._call("POST", f"/v1/payment_sessions/{created.reference}/authorize",
                       {"payment_method": "pm_card_chargeDeclinedExpiredCard"})

    error = caught.value
    assert (error.status, error.executed, error.retryable) == (402, True, False)
    assert error.decline_code == "expired_card"


def test_retry_after_a_lost_response_creates_one_session(provider, app, stack):
    request = session_request(app)

    first = provider.create_session(request)
    retried = provider.create_session(request)  # as if the first answer never arrived

    assert retried.reference == first.reference
    assert stats(stack["psp_url"])[request.idempotency_key] == 1
    found = psp_call(stack["psp_url"], "GET",
                     f"/v1/payment_sessions?client_reference_id={request.reference}").json()
    assert [s["id"] for s in found["data"]] == [first.reference]


def test_same_key_with_other_parameters_is_refused_for_good(provider, app, stack):
    request = session_request(app, amount=1000)
    provider.create_session(request)

    with pytest.raises(ProviderError) as caught:
        provider.create_session(replace(request, amount=2000))

    assert caught.value.status == 400
    assert caught.value.code == "idempotency_key_reused"
    assert caught.value.retryable is False
    assert caught.value.executed is None  # the first request with the key stands (issue 11)
    assert stats(stack["psp_url"])[request.idempotency_key] == 1


# --- failures of the network and of the PSP ------------------------------------------------

def test_closed_port_is_retryable_and_certainly_not_executed(app):
    adapter = SandboxProvider(closed_port_url(), API_KEY, ["secret"], timeout=2)

    with pytest.raises(ProviderError) as caught:
        adapter.create_session(session_request(app))

    error = caught.value
    assert not isinstance(error, ProviderTimeout)
    assert error.executed is False and error.retryable is True


def test_server_slower_than_the_timeout_is_an_unknown_outcome(app, tiny_server):
    release, answered = threading.Event(), threading.Event()

    def slow(environ, start_response):
        release.wait(60)  # until the client has given up, however loaded the machine is
        answered.set()
        return Response("{}", mimetype="application/json")(environ, start_response)

    adapter = SandboxProvider(tiny_server(slow), API_KEY, ["secret"], timeout=0.3)

    try:
        with pytest.raises(ProviderTimeout) as caught:
            adapter.create_session(session_request(app))
        # The adapter gave up on its own timeout, not on an answer: the server still held it.
        assert not answered.is_set()
    finally:
        release.set()
    assert caught.value.executed is None and caught.value.retryable is True
    assert caught.value.code == "timeout"


@pytest.mark.parametrize("body", [
    {"error": {"type": "api_error", "code": "api_error", "message": "boom"}},
    "not json at all",
])
def test_server_error_is_retryable_with_unknown_outcome(app, tiny_server, body):
    def failing(environ, start_response):
        text = json.dumps(body) if isinstance(body, dict) else body
        return Response(text, status=500, mimetype="application/json")(environ, start_response)

    adapter = SandboxProvider(tiny_server(failing), API_KEY, ["secret"], timeout=2)

    with pytest.raises(ProviderError) as caught:
        adapter.retrieve("ps_anything")

    error = caught.value
    assert (error.status, error.retryable, error.executed) == (500, True, None)


def test_redirects_are_not_followed(app, tiny_server):
    seen = []

    def target(environ, start_response):
        seen.append(environ.get("HTTP_AUTHORIZATION"))
        return Response("{}", mimetype="application/json")(environ, start_response)

    target_url = tiny_server(target)

    def redirecting(environ, start_response):
        return Response("", status=307, headers={"Location": target_url + "/steal"})(
            environ, start_response)

    adapter = SandboxProvider(tiny_server(redirecting), API_KEY, ["secret"], timeout=2)

    with pytest.raises(ProviderError) as caught:
        adapter.retrieve("ps_anything")

    assert caught.value.status == 307 and caught.value.retryable is False
    assert seen == []  # our API key never went to another host


def test_proxy_settings_are_read_when_the_client_is_built_not_per_call(app, tiny_server,
                                                                      monkeypatch):
    # requests re-reads the environment on every call unless told not to; ours reads it once
    # (checkout's CPU), and a proxy configured at start-up is still used.
    seen = []

    def proxy(environ, start_response):
        seen.append((environ.get("HTTP_HOST"), environ.get("PATH_INFO")))
        return Response('{"error": {"type": "invalid_request_error", "code": "gone"}}',
                        status=404, mimetype="application/json")(environ, start_response)

    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY",
                 "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", tiny_server(proxy))
    monkeypatch.setenv("http_proxy", tiny_server(proxy))
    adapter = SandboxProvider("http://psp.example.test", API_KEY, ["secret"], timeout=2)
    monkeypatch.delenv("HTTP_PROXY")
    monkeypatch.delenv("http_proxy")
    read = []
    monkeypatch.setattr("requests.sessions.get_netrc_auth",
                        lambda *a, **k: read.append("netrc"))
    monkeypatch.setattr("requests.utils.get_environ_proxies",
                        lambda *a, **k: read.append("proxies") or {})

    with pytest.raises(ProviderError) as caught:
        adapter.retrieve("ps_through_the_proxy")

    assert caught.value.status == 404
    assert seen == [("psp.example.test", "/v1/payment_sessions/ps_through_the_proxy")]
    assert read == []  # nothing re-read from the environment on the call


# --- mapping ------------------------------------------------------------------------------

def raw_session(**fields) -> dict:
    base = {"id": "ps_x", "status": "open", "amount": 2500, "currency": "eur",
            "amount_authorized": 0, "amount_captured": 0, "amount_refunded": 0,
            "last_payment_error": None, "payment_method": None, "fee": None}
    return {**base, **fields}


DECLINE = {"code": "card_declined", "decline_code": "generic_decline", "message": "declined"}


@pytest.mark.parametrize("fields, expected", [
    ({"status": "open"}, S.PROCESSING),
    ({"status": "open", "last_payment_error": DECLINE}, S.DECLINED),
    ({"status": "requires_action"}, S.REQUIRES_ACTION),
    ({"status": "authorized", "amount_authorized": 2500}, S.AUTHORIZED),
    ({"status": "captured", "amount_authorized": 2500, "amount_captured": 2500}, S.CAPTURED),
    ({"status": "captured", "amount_authorized": 2500, "amount_captured": 2500,
      "amount_refunded": 500}, S.PARTIALLY_REFUNDED),
    ({"status": "captured", "amount_authorized": 2500, "amount_captured": 2500,
      "amount_refunded": 2500}, S.REFUNDED),
    ({"status": "canceled"}, S.CANCELLED),
    ({"status": "expired"}, S.EXPIRED),
])
def test_every_sandbox_status_maps_explicitly(fields, expected):
    assert mapping.to_provider_payment(raw_session(**fields)).status == expected


@pytest.mark.parametrize("raw", ["processing", "succeeded", "OPEN", "", None])
def test_unknown_status_maps_to_none_never_success(raw):
    report = mapping.to_provider_payment(raw_session(status=raw))
    assert report.status is None
    assert report.raw_status == str(raw)


def test_decline_codes_get_buyer_readable_words():
    report = mapping.to_provider_payment(raw_session(last_payment_error={
        "code": "authentication_failed", "decline_code": None, "message": "x"}))
    assert report.decline_code == "authentication_failed"
    assert "3-D Secure" in report.failure_message
    unknown = mapping.to_provider_payment(raw_session(last_payment_error={
        "code": "card_declined", "decline_code": "do_not_honor", "message": "x"}))
    assert unknown.failure_message == DEFAULT_DECLINE_MESSAGE


# --- webhooks -----------------------------------------------------------------------------

def psp_event_for(psp_url: str, session_id: str) -> dict:
    events = psp_call(psp_url, "GET", "/v1/events?limit=100").json()["data"]
    return next(e for e in events if e["data"]["object"]["id"] == session_id)


def test_signed_webhook_parses_into_a_provider_event(provider, app, stack):
    created = authorized_session(provider, app, stack["psp_url"])
    event = psp_event_for(stack["psp_url"], created.reference)
    raw = json.dumps(event).encode()
    header = sign(app.config["SANDBOX_WEBHOOK_SECRET"], raw, int(time.time()))

    parsed = provider.parse_webhook(raw, {HEADER: header})

    assert parsed == ProviderEvent(provider="sandbox", event_id=event["id"],
                                   type="payment_session.authorized",
                                   object_id=created.reference, payload=event,
                                   kind=EventKind.PAYMENT)


@pytest.mark.parametrize("tamper", ["wrong_secret", "body_changed", "too_old", "no_header",
                                    "garbage_header", "signed_non_event"])
def test_invalid_webhooks_raise_invalid_signature(provider, app, tamper):
    secret = app.config["SANDBOX_WEBHOOK_SECRET"]
    raw = json.dumps({"id": "evt_1", "type": "payment_session.captured",
                      "data": {"object": {"id": "ps_1"}}}).encode()
    stamp = int(time.time())
    headers = {HEADER: sign(secret, raw, stamp)}
    if tamper == "wrong_secret":
        headers = {HEADER: sign("whsec_someone_else", raw, stamp)}
    elif tamper == "body_changed":
        raw = raw.replace(b"captured", b"canceled")
    elif tamper == "too_old":
        headers = {HEADER: sign(secret, raw, stamp - 3600)}
    elif tamper == "no_header":
        headers = {}
    elif tamper == "garbage_header":
        headers = {HEADER: "v1=abc"}
    elif tamper == "signed_non_event":
        raw = b'{"hello": "world"}'
        headers = {HEADER: sign(secret, raw, stamp)}

    with pytest.raises(InvalidSignature):
        provider.parse_webhook(raw, headers)


def test_answer_broken_off_mid_body_is_an_unknown_outcome(app):
    """The PSP may have acted before its answer broke off: never 'not executed'."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def half_answer():
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 500\r\n\r\n{\"id\": \"ps_")
        listener.close()

    threading.Thread(target=half_answer, daemon=True).start()
    adapter = SandboxProvider(f"http://127.0.0.1:{listener.getsockname()[1]}", API_KEY,
                              ["secret"], timeout=2)

    with pytest.raises(ProviderError) as caught:
        adapter.create_session(session_request(app))

    assert caught.value.executed is None and caught.value.retryable is True


def test_the_psp_verdict_fingerprint_and_country_reach_the_report(provider, app, stack):
    from tests.flows import buyer_pays

    created = provider.create_session(session_request(app))
    buyer_pays(stack["psp_url"], created.reference, "pm_card_riskLevelElevated")
    report = provider.retrieve(created.reference)
    assert report.risk_level == "elevated"
    assert report.card.country == "US" and len(report.card.fingerprint) == 16
    requested = provider.create_session(session_request(app, request_three_d_secure=True))
    buyer_pays(stack["psp_url"], requested.reference, "pm_card_visa")
    assert provider.retrieve(requested.reference).status.value == "requires_action"
