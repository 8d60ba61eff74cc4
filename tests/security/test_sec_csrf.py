"""CSRF: every state-changing form POST needs the session's token; webhooks are exempt."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditRecord, CartItem, Item, Order, User
from tests.flows import PASSWORD, add, login

TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@pytest.fixture
def csrf_on(app, monkeypatch):
    """CSRF protection as in production (the suite switches it off for brevity elsewhere)."""
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)


def _count(model) -> int:
    return db.session.execute(select(func.count()).select_from(model)).scalar()


def _token(client, path: str) -> str:
    return TOKEN.search(client.get(path).get_data(as_text=True)).group(1)


def test_login_without_token_is_refused(client, people, csrf_on):
    audits = _count(AuditRecord)
    response = client.post("/login", data={"email": "buyer@test.example", "password": PASSWORD})
    assert response.status_code == 400
    assert _count(AuditRecord) == audits  # the view never ran
    assert client.get("/cart").status_code == 302


def test_login_with_a_forged_token_is_refused(client, people, csrf_on):
    response = client.post("/login", data={"email": "buyer@test.example", "password": PASSWORD,
                                           "csrf_token": "forged"})
    assert response.status_code == 400


def test_login_with_the_pages_token_works(client, people, csrf_on):
    token = _token(client, "/login")
    response = client.post("/login", data={"email": "buyer@test.example", "password": PASSWORD,
                                           "csrf_token": token})
    assert response.status_code == 303


def test_a_token_from_another_session_is_refused(app, people, csrf_on):
    attacker, victim = app.test_client(), app.test_client()
    token = _token(attacker, "/login")
    response = victim.post("/login", data={"email": "buyer@test.example",
                                           "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 400


@pytest.fixture
def buyer_with_cart(app, client, people, monkeypatch):
    """The buyer logged in with a mug in the cart, before CSRF is switched on."""
    login(client, "buyer")
    add(client, people["mug"], 1)
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    return client


def _cart_rows() -> list[tuple[int, int]]:
    return [tuple(r) for r in db.session.execute(
        select(CartItem.item_id, CartItem.quantity).order_by(CartItem.id))]


@pytest.mark.parametrize(("path", "data"), [
    ("/cart/add", {"item_id": "{candle}", "quantity": "3"}),
    ("/cart/update", {"item_id": "{mug}", "quantity": "0"}),
    ("/checkout", {"currency": "EUR"}),
    ("/logout", {}),
])
def test_buyer_posts_without_token_change_nothing(buyer_with_cart, people, path, data):
    client = buyer_with_cart
    data = {k: v.format(**people) for k, v in data.items()}
    cart, stock = _cart_rows(), db.session.get(Item, people["mug"]).stock
    version = db.session.get(User, people["buyer"]).session_version

    response = client.post(path, data=data)
    assert response.status_code == 400

    db.session.expire_all()
    assert _cart_rows() == cart
    assert _count(Order) == 0
    assert db.session.get(Item, people["mug"]).stock == stock
    assert db.session.get(User, people["buyer"]).session_version == version
    assert client.get("/cart").status_code == 200  # still logged in


def test_checkout_with_the_carts_token_works(buyer_with_cart, people):
    client = buyer_with_cart
    token = _token(client, "/cart")
    response = client.post("/checkout", data={"currency": "EUR", "csrf_token": token})
    assert response.status_code == 303
    assert _count(Order) == 1


def test_seller_item_form_needs_the_token(client, people, csrf_on):
    login_data = {"email": "seller@test.example", "password": PASSWORD,
                  "csrf_token": _token(client, "/login")}
    assert client.post("/login", data=login_data).status_code == 303
    items = _count(Item)
    response = client.post("/seller/items/new", data={"title": "Forged", "price": "1.00",
                                                      "currency": "EUR", "stock": 1})
    assert response.status_code == 400
    assert _count(Item) == items


def test_webhooks_are_exempt(client, app, csrf_on):
    import json
    import time

    from app.models import WebhookEvent
    from app.providers.sandbox.webhooks import sign

    raw = json.dumps({"id": "evt_csrf_exempt", "type": "payment_session.updated",
                      "data": {"object": {"id": "ps_unknown"}}}).encode()
    header = sign(app.config["SANDBOX_WEBHOOK_SECRET"], raw, int(time.time()))
    response = client.post("/webhooks/sandbox", data=raw,
                           headers={"Sandbox-Signature": header,
                                    "Content-Type": "application/json"})
    assert response.status_code == 200
    assert _count(WebhookEvent) == 1
