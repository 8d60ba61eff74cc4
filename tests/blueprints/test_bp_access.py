"""Who may reach what: roles per blueprint, and other people's objects answer 404."""
from __future__ import annotations

import pytest

from app.extensions import db
from app.models import Item, Order
from tests.flows import add, login


@pytest.fixture
def buyers_order(app, people) -> int:
    """An order of `buyer` awaiting payment (no PSP call needed)."""
    client = app.test_client()
    login(client, "buyer")
    add(client, people["mug"])
    response = client.post("/checkout", data={"currency": "EUR"})
    assert response.status_code == 303
    return int(response.headers["Location"].rsplit("/", 1)[-1])


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/orders/{id}"),
    ("GET", "/checkout/{id}"),
    ("GET", "/checkout/{id}/status"),
    ("GET", "/checkout/{id}/return"),
    ("GET", "/checkout/{id}/card"),
    ("POST", "/checkout/{id}/pay"),
])
def test_another_buyers_order_answers_404(client, people, buyers_order, method, path):
    url = path.format(id=buyers_order)
    data = {"mode": "hosted"} if method == "POST" else None
    login(client, "other_buyer")
    assert client.open(url, method=method, data=data).status_code == 404
    db.session.expire_all()
    assert db.session.get(Order, buyers_order).payments == []  # no session was started

    owner = client.application.test_client()
    login(owner, "buyer")
    assert owner.open(url, method=method, data=data).status_code in (200, 303)


def test_a_missing_order_answers_404_too(client, people):
    login(client, "buyer")
    assert client.get("/orders/999999").status_code == 404
    assert client.get("/checkout/999999").status_code == 404


def test_order_history_lists_only_the_buyers_own_orders(client, people, buyers_order):
    login(client, "other_buyer")
    html = client.get("/orders").get_data(as_text=True)
    assert f"/orders/{buyers_order}" not in html
    login(client, "buyer")
    assert f"/orders/{buyers_order}" in client.get("/orders").get_data(as_text=True)


def test_seller_cannot_edit_another_sellers_item(client, people):
    login(client, "seller")
    url = f"/seller/items/{people['candle']}/edit"
    assert client.get(url).status_code == 404
    response = client.post(url, data={"title": "Stolen", "description": "", "price": "0.01",
                                      "currency": "EUR", "stock": 0, "active": "y"})
    assert response.status_code == 404
    item = db.session.get(Item, people["candle"])
    assert (item.title, item.price_amount, item.stock) == ("Candle", 1690, 10)


def test_seller_can_edit_own_item(client, people):
    login(client, "seller")
    url = f"/seller/items/{people['mug']}/edit"
    assert client.get(url).status_code == 200
    response = client.post(url, data={"title": "Big mug", "description": "", "price": "26.50",
                                      "currency": "EUR", "stock": 4, "active": "y"})
    assert response.status_code == 303
    db.session.expire_all()
    item = db.session.get(Item, people["mug"])
    assert (item.title, item.price_amount, item.stock) == ("Big mug", 2650, 4)


def test_seller_dashboard_lists_only_own_items(client, people):
    login(client, "seller")
    html = client.get("/seller").get_data(as_text=True)
    assert "Mug" in html and "Board" in html
    assert "Candle" not in html and "Kettle" not in html


@pytest.mark.parametrize(("who", "method", "path", "status"), [
    ("buyer", "GET", "/seller", 403),
    ("buyer", "GET", "/seller/items/new", 403),
    ("buyer", "GET", "/support/payments", 403),
    ("buyer", "GET", "/support/audit", 403),
    ("seller", "GET", "/cart", 403),
    ("seller", "POST", "/checkout", 403),
    ("seller", "GET", "/orders", 403),
    ("seller", "GET", "/support/payments", 403),
    ("seller", "GET", "/support/audit", 403),
    ("support", "GET", "/support/payments", 200),
    ("support", "GET", "/support/audit", 403),
    ("support", "GET", "/cart", 403),
    ("support", "GET", "/seller", 403),
    ("admin", "GET", "/support/payments", 200),
    ("admin", "GET", "/support/audit", 200),
    ("buyer", "GET", "/cart", 200),
    ("seller", "GET", "/seller", 200),
])
def test_role_gates(client, people, who, method, path, status):
    login(client, who)
    data = {"currency": "EUR"} if method == "POST" else None
    assert client.open(path, method=method, data=data).status_code == status


def test_support_sees_a_payment_only_with_the_right_role(client, people):
    login(client, "buyer")
    assert client.get("/support/payments/1").status_code == 403
    login(client, "support")
    assert client.get("/support/payments/999999").status_code == 404


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/cart"), ("POST", "/cart/add"), ("POST", "/cart/update"), ("GET", "/orders"),
    ("GET", "/orders/1"), ("POST", "/checkout"), ("GET", "/checkout/1"),
    ("GET", "/checkout/1/status"), ("POST", "/checkout/1/pay"), ("GET", "/seller"),
    ("GET", "/seller/items/new"), ("GET", "/seller/items/1/edit"),
    ("GET", "/support/payments"), ("GET", "/support/payments/1"), ("GET", "/support/audit"),
    ("POST", "/logout"),
])
def test_anonymous_is_sent_to_login(client, people, method, path):
    response = client.open(path, method=method)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize("path", ["/", "/login", "/signup", "/healthz"])
def test_public_pages_need_no_login(client, people, path):
    assert client.get(path).status_code == 200


def test_items_are_public(client, people):
    assert client.get(f"/items/{people['mug']}").status_code == 200


def test_healthz_reports_database_redis_and_workers(client, app):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.is_json
    report = response.get_json()
    assert report["database"]["ok"] is True
    assert report["database"]["dialect"] == db.engine.dialect.name
    assert report["redis"] == {"ok": True}
    assert report["workers"]["count"] == 0 and report["workers"]["ok"] is False
    assert report["status"] == "degraded"  # up, but nothing would process the queue


def test_healthz_answers_503_when_redis_is_down(client, app, monkeypatch):
    import redis

    class Down:
        def ping(self):
            raise redis.ConnectionError("down")

    monkeypatch.setitem(app.extensions, "redis", Down())
    response = client.get("/healthz")
    assert response.status_code == 503
    report = response.get_json()
    assert report["redis"]["ok"] is False and report["status"] == "down"
    assert report["database"]["ok"] is True
