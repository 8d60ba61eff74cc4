"""Headers on every response: CSP with a per-request nonce, nosniff, referrer policy, cookies."""
from __future__ import annotations

import re
import time

import pytest
import requests

from tests.flows import PASSWORD, login

NONCE = re.compile(r"script-src 'self' 'nonce-([A-Za-z0-9_-]{16,})'")


def _directives(csp: str) -> dict[str, str]:
    return {part.strip().split(" ", 1)[0]: part.strip() for part in csp.split(";")}


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/"), ("GET", "/login"), ("POST", "/login"), ("GET", "/signup"), ("GET", "/cart"),
    ("GET", "/no-such-page"), ("GET", "/healthz"), ("GET", "/static/js/app.js"),
    ("POST", "/webhooks/sandbox"), ("GET", "/webhooks/sandbox"),
])
def test_every_response_carries_the_security_headers(client, people, method, path):
    response = client.open(path, method=method)
    csp = response.headers["Content-Security-Policy"]
    directives = _directives(csp)
    assert directives["frame-ancestors"] == "frame-ancestors 'none'"
    assert directives["object-src"] == "object-src 'none'"
    assert directives["base-uri"] == "base-uri 'none'"
    assert directives["default-src"] == "default-src 'self'"
    assert NONCE.search(csp)
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_nonce_differs_between_requests_and_matches_the_scripts(client, people):
    first, second = client.get("/login"), client.get("/login")
    nonces = [NONCE.search(r.headers["Content-Security-Policy"]).group(1) for r in (first, second)]
    assert nonces[0] != nonces[1]
    for response, nonce in zip((first, second), nonces):
        scripts = re.findall(r"<script\b[^>]*>", response.get_data(as_text=True))
        assert scripts
        assert all(f'nonce="{nonce}"' in tag for tag in scripts)


def test_frames_and_form_targets_allow_only_the_psp(client, app):
    from app.security_headers import origin_of

    csp = _directives(client.get("/").headers["Content-Security-Policy"])
    psp = origin_of(app.config["SANDBOX_PUBLIC_URL"])
    assert csp["frame-src"] == f"frame-src {psp}"
    assert csp["form-action"] == f"form-action 'self' {psp}"


def test_live_server_sends_the_headers_too(stack):
    response = requests.get(stack["url"] + "/login", timeout=10)
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_session_cookie_is_httponly_and_samesite_lax(client, people):
    response = client.post("/login", data={"email": "buyer@test.example", "password": PASSWORD})
    assert response.status_code == 303
    [cookie] = [c for c in response.headers.getlist("Set-Cookie")
                if c.startswith("holdfast_session=")]
    attributes = {a.strip().split("=")[0].lower(): a.strip() for a in cookie.split(";")[1:]}
    assert "httponly" in attributes
    assert attributes["samesite"].lower() == "samesite=lax"


def test_no_hsts_over_plain_http_in_tests(client, people):
    """HSTS is sent only when cookies are Secure (production); see tests/unit for that side."""
    assert "Strict-Transport-Security" not in client.get("/").headers


def test_a_large_post_is_refused_with_413(client, people):
    login(client, "buyer")
    # CPU time, not wall time: refusing must not cost seconds of work (the 3 MB number is never
    # parsed), and other processes on a busy machine do not count against this process.
    started = time.process_time()
    response = client.post("/cart/add", data={"item_id": people["mug"],
                                              "quantity": "1" + "0" * (3 * 1024 * 1024)})
    assert response.status_code == 413
    assert time.process_time() - started < 5


def test_a_large_webhook_is_refused_with_413_by_the_live_server(stack):
    started = time.process_time()  # the live server is a thread of this process
    response = requests.post(stack["url"] + "/webhooks/sandbox", data=b"x" * (3 * 1024 * 1024),
                             headers={"Content-Type": "application/json"}, timeout=30)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == 413
    assert time.process_time() - started < 5
