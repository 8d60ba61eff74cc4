"""No open redirect: ?next= after login only ever points back into this site."""
from __future__ import annotations

import pytest

from tests.flows import PASSWORD


def _login(client, next_value: str, who: str = "buyer"):
    return client.post("/login", query_string={"next": next_value},
                       data={"email": f"{who}@test.example", "password": PASSWORD})


@pytest.mark.parametrize("target", [
    "https://evil.example",
    "https://evil.example/login",
    "//evil.example",
    "//evil.example/orders",
    "/\\evil.example",
    "\\\\evil.example",
    "///evil.example",
    "http:evil.example",
    "https:/evil.example",
    "javascript:alert(1)",
    "evil.example",
    " https://evil.example",
])
@pytest.mark.parametrize(("who", "home"), [("buyer", "/"), ("seller", "/seller")])
def test_foreign_next_lands_on_the_role_home(client, people, target, who, home):
    response = _login(client, target, who)
    assert response.status_code == 303
    assert response.headers["Location"] == home


@pytest.mark.parametrize("target", ["/orders", "/cart?x=1", "/items/1"])
def test_local_next_is_followed(client, people, target):
    response = _login(client, target)
    assert response.status_code == 303
    assert response.headers["Location"] == target


def test_login_required_round_trip_keeps_the_path(client, people):
    response = client.get("/orders")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=%2Forders"
    assert _login(client, "/orders").headers["Location"] == "/orders"
