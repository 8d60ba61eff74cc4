"""Every list pages with the one keyset helper (app/keyset.py): a forged cursor is a readable
400, never a 500 or a silently wrong page, and a next link keeps the list's filters."""
from __future__ import annotations

import pytest

from app.keyset import encode
from tests.flows import login

LISTS = [
    ("support", "/support/payments?status=captured&after={}"),
    ("support", "/support/disputes?state=all&after={}"),
    ("support", "/support/fraud/reviews?after={}"),
    ("support", "/support/search?q=buyer@test.example&after={}"),
    ("admin", "/support/audit?action=auth.&after={}"),
    ("admin", "/admin/reports/compliance?after={}"),
    ("buyer", "/orders?after={}"),
    ("seller", "/seller/refunds?lines_after={}"),
    ("seller", "/seller/refunds?refunds_after={}"),
    ("seller", "/seller/payouts?payouts_after={}"),
]


@pytest.mark.parametrize(("who", "path"), LISTS)
def test_a_forged_cursor_is_a_readable_400(app, people, who, path):
    client = app.test_client()
    login(client, who)
    for cursor in ("!!", encode(["x"]), encode([1, 2, 3, 4])):
        response = client.get(path.format(cursor))
        assert response.status_code == 400, (path, cursor)
        assert "page link is not valid" in response.get_data(as_text=True)


@pytest.mark.parametrize(("who", "path"), LISTS)
def test_a_valid_cursor_past_the_end_is_an_empty_page(app, people, who, path):
    client = app.test_client()
    login(client, who)
    width = 3 if "disputes" in path else 2 if "fraud" in path else 1
    values = {1: [1], 2: [encode_dt(), 1], 3: [1, encode_dt(), 1]}[width]
    response = client.get(path.format(encode(values)))
    assert response.status_code == 200, path
    assert 'rel="next"' not in response.get_data(as_text=True)


def encode_dt():
    from datetime import datetime

    return datetime(1971, 1, 1)


def test_orders_page_on_with_their_filters_kept(app, people, stack, psp, monkeypatch):
    from app.blueprints.shop import routes
    from tests.blueprints.money_steps import paid_order

    monkeypatch.setattr(routes, "ORDERS_PAGE", 1)
    first, second = paid_order(app, people, stack, psp), paid_order(app, people, stack, psp)
    client = app.test_client()
    login(client, "buyer")
    html = client.get("/orders").get_data(as_text=True)
    assert f"#{second}<" in html and f"#{first}<" not in html
    link = html.split('rel="next" href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    html = client.get(link).get_data(as_text=True)
    assert f"#{first}<" in html and f"#{second}<" not in html
