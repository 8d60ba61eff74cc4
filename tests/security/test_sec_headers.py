"""Headers on every response: CSP with a per-request nonce, nosniff, referrer policy, cookies."""
from __future__ import annotations

import re
import time
from types import SimpleNamespace

import pytest
import requests

from app.security_headers import origin_of
from tests.flows import PASSWORD, add, login, order_and_start

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


@pytest.mark.parametrize("path", ["/", "/login", "/cart", "/orders", "/no-such-page"])
def test_pages_that_need_no_psp_name_none(client, people, path):
    login(client, "buyer")
    csp = _directives(client.get(path).headers["Content-Security-Policy"])
    assert csp["frame-src"] == "frame-src 'none'"
    assert csp["form-action"] == "form-action 'self'"
    assert csp["connect-src"] == "connect-src 'self'"


def test_the_pay_page_may_post_only_to_the_psps_its_order_can_be_routed_to(
        client, people, second_sandbox):
    login(client, "buyer")
    add(client, people["mug"])
    add(client, people["board"])
    eur = _pay_page_csp(client, "EUR")
    assert eur["form-action"] == f"form-action 'self' {second_sandbox.eu}"
    assert eur["frame-src"] == "frame-src 'none'"
    usd = _pay_page_csp(client, "USD")
    # USD goes to the US instance, but a buyer billed in the EU is routed to the EU one.
    assert usd["form-action"] == f"form-action 'self' {second_sandbox.eu} {second_sandbox.us}"


def test_the_card_page_frames_exactly_the_routed_instance_at_its_public_origin(
        client, people, second_sandbox):
    login(client, "buyer")
    add(client, people["board"])
    order_id, payment = order_and_start(client, "USD", "embedded")
    assert payment.provider == "sandbox_us"
    assert payment.embed_url.startswith(second_sandbox.us + "/embed/")
    csp = _directives(client.get(f"/checkout/{order_id}/card").headers["Content-Security-Policy"])
    assert csp["frame-src"] == f"frame-src {second_sandbox.us}"
    assert csp["form-action"] == "form-action 'self'"
    back = _directives(client.get(f"/checkout/{order_id}/return")
                       .headers["Content-Security-Policy"])
    assert (back["frame-src"], back["form-action"]) == ("frame-src 'none'", "form-action 'self'")


def test_a_new_provider_needs_no_csp_edit(client, people, app, monkeypatch, tmp_path):
    from app.providers import registry

    monkeypatch.setitem(registry.FACTORIES, "acme", f"{__name__}:acme_from_config")
    routing = tmp_path / "routing.toml"
    routing.write_text('version = 1\n[[rule]]\nname = "default"\nproviders = ["acme"]\n')
    monkeypatch.setitem(app.config, "ROUTING_FILE", str(routing))
    _forget(app, "acme")
    try:
        login(client, "buyer")
        add(client, people["mug"])
        csp = _pay_page_csp(client, "EUR")
    finally:
        _forget(app, "acme")
    assert csp["form-action"] == "form-action 'self' https://pay.acme.example"


def acme_from_config(cfg):
    """A provider this module invents: it declares its origins and nothing else is edited."""
    from app.providers.base import BrowserOrigins
    from app.providers.sandbox import SandboxProvider

    class Acme(SandboxProvider):
        name = "acme"

        def browser_origins(self):
            return BrowserOrigins.of(hosted=["https://pay.acme.example/checkout"],
                                     frames=["https://embed.acme.example/"])

    return Acme(cfg["SANDBOX_API_URL"], cfg["SANDBOX_API_KEY"], [])


def test_allow_psp_adds_origins_to_this_response_only(app):
    from app.providers.base import BrowserOrigins
    from app.security_headers import allow_psp

    origins = BrowserOrigins.of(hosted=["https://h.example/p"], frames=["https://f.example/x"],
                                scripts=["https://s.example/v3/"], connects=["https://c.example"])
    # A fresh app context each time, as each real request has (g lives there).
    with app.app_context(), app.test_request_context("/"):
        allow_psp(origins, navigate=True)
        csp = _directives(app.process_response(app.make_response("x"))
                          .headers["Content-Security-Policy"])
    assert csp["form-action"] == "form-action 'self' https://h.example"
    assert csp["frame-src"] == "frame-src 'none'" and csp["connect-src"] == "connect-src 'self'"
    with app.app_context(), app.test_request_context("/"):
        allow_psp(origins, embed=True)
        csp = _directives(app.process_response(app.make_response("x"))
                          .headers["Content-Security-Policy"])
    assert csp["form-action"] == "form-action 'self'"
    assert csp["frame-src"] == "frame-src https://f.example"
    assert csp["script-src"].endswith(" https://s.example")
    assert csp["connect-src"] == "connect-src 'self' https://c.example"


@pytest.fixture
def second_sandbox(app, serve_wsgi, tmp_path, monkeypatch):
    """A second sandbox instance as provider "sandbox_us", reached by the browser at a public
    URL other than its API URL, and rules sending USD there and EUR to the first one."""
    import sandbox_psp
    from tests.conftest import API_KEY, DeferredApp

    wsgi = DeferredApp()
    api_url = serve_wsgi(wsgi)
    public_url = api_url.replace("127.0.0.1", "localhost")
    wsgi.app = sandbox_psp.create_app({
        "TESTING": True, "SANDBOX_DATABASE_URL": f"sqlite:///{tmp_path / 'us.db'}",
        "SANDBOX_API_KEYS": API_KEY, "SANDBOX_PUBLIC_URL": public_url,
        "SANDBOX_PLATFORM_ORIGIN": origin_of(app.config["PUBLIC_URL"])})
    routing = tmp_path / "routing.toml"
    routing.write_text(ROUTING)
    for name, value in (("SANDBOX_US_API_URL", api_url), ("SANDBOX_US_PUBLIC_URL", public_url),
                        ("ROUTING_FILE", str(routing))):
        monkeypatch.setitem(app.config, name, value)
    _forget(app, "sandbox_us")
    yield SimpleNamespace(eu=origin_of(app.config["SANDBOX_PUBLIC_URL"]), us=public_url)
    _forget(app, "sandbox_us")


ROUTING = """version = 1
[[rule]]
name = "eu-cards-stay-in-eu"
tags = ["eu_card"]
providers = ["sandbox"]
[[rule]]
name = "usd"
currency = ["USD"]
providers = ["sandbox_us"]
[[rule]]
name = "default"
providers = ["sandbox"]
"""


def _forget(app, provider: str) -> None:
    for cache in ("holdfast_providers", "holdfast_unconfigured"):
        app.extensions.get(cache, {}).pop(provider, None)


def _pay_page_csp(client, currency: str) -> dict[str, str]:
    response = client.post("/checkout", data={"currency": currency})
    assert response.status_code == 303, response.get_data(as_text=True)[:300]
    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    return _directives(page.headers["Content-Security-Policy"])


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
