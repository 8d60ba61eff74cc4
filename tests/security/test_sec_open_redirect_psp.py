"""Return and cancel URLs given to the PSP stay on PUBLIC_URL's origin (no open redirect)."""
from __future__ import annotations

import pytest

from app.services.checkout.checkout import check_return_url
from app.services.errors import ServiceError
from tests.flows import add, latest_payment, login, psp_call


@pytest.mark.parametrize("url", [
    "https://evil.example/checkout/1/return",
    "//evil.example/checkout/1/return",
    "javascript:alert(1)",
    "http://user@{host}/checkout/1/return",
    "{scheme}://{host}.evil.example/checkout/1/return",
    "{scheme}://{host}:1/checkout/1/return",
    "https://{host}\\@evil.example/",
])
def test_a_foreign_return_url_is_refused(app, url):
    public = app.config["PUBLIC_URL"]
    scheme, host = public.split("://")
    with app.test_request_context(), pytest.raises(ServiceError):
        check_return_url(url.format(scheme=scheme, host=host))


def test_our_own_url_passes(app):
    with app.test_request_context():
        check_return_url(app.config["PUBLIC_URL"] + "/checkout/1/return")


def test_a_spoofed_host_header_does_not_reach_the_psp(app, people, stack):
    client = app.test_client()
    login(client, "buyer")
    add(client, people["mug"])
    response = client.post("/checkout", data={"currency": "EUR"})
    order_id = int(response.headers["Location"].rsplit("/", 1)[-1])
    name = app.config["SESSION_COOKIE_NAME"]
    client.set_cookie(name, client.get_cookie(name).value, domain="evil.example")
    response = client.post(f"/checkout/{order_id}/pay", data={"mode": "hosted"},
                           base_url="http://evil.example")
    assert response.status_code == 303, (response.headers, response.get_data(as_text=True)[:300])
    payment = latest_payment(order_id)
    session = psp_call(stack["psp_url"], "GET", f"/v1/payment_sessions/{payment.psp_reference}")
    body = session.json()
    public = app.config["PUBLIC_URL"]
    assert body["return_url"] == f"{public}/checkout/{order_id}/return"
    assert body["cancel_url"] == f"{public}/checkout/{order_id}"


def test_a_public_url_mismatch_refuses_to_start_the_payment(app, people, monkeypatch):
    import app.services.checkout.checkout as checkout_service

    monkeypatch.setattr(checkout_service, "public_url", lambda path: checkout_service.
                        check_return_url("https://evil.example" + path))
    client = app.test_client()
    login(client, "buyer")
    add(client, people["mug"])
    response = client.post("/checkout", data={"currency": "EUR"})
    order_id = int(response.headers["Location"].rsplit("/", 1)[-1])
    response = client.post(f"/checkout/{order_id}/pay", data={"mode": "hosted"})
    assert response.status_code == 400
    assert "return address is not ours" in response.get_data(as_text=True)
    payment = latest_payment(order_id)
    assert payment is None or payment.psp_reference is None  # the PSP was never asked
