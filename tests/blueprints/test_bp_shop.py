"""The cart and placing an order: quantities, currencies, catalogue prices and stock."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import CartItem, Item, Order
from tests.flows import add, login


def _cart(buyer_id: int) -> dict[int, int]:
    db.session.expire_all()
    rows = db.session.execute(select(CartItem).where(CartItem.buyer_id == buyer_id))
    return {row.item_id: row.quantity for row in rows.scalars()}


def _orders() -> int:
    return db.session.execute(select(func.count()).select_from(Order)).scalar()


def _stock(item_id: int) -> int:
    db.session.expire_all()
    return db.session.get(Item, item_id).stock


def _checkout(client, currency: str, **extra):
    return client.post("/checkout", data={"currency": currency, **extra})


def test_cart_add_update_and_remove(client, people):
    login(client, "buyer")
    add(client, people["mug"], 2)
    assert _cart(people["buyer"]) == {people["mug"]: 2}
    add(client, people["mug"], 1)  # adding again adds to the line
    assert _cart(people["buyer"]) == {people["mug"]: 3}

    response = client.post("/cart/update", data={"item_id": people["mug"], "quantity": 5})
    assert response.status_code == 303
    assert _cart(people["buyer"]) == {people["mug"]: 5}

    client.post("/cart/update", data={"item_id": people["mug"], "quantity": 0})
    assert _cart(people["buyer"]) == {}


@pytest.mark.parametrize("quantity", [0, -1, 100, "two"])
def test_cart_add_refuses_odd_quantities(client, people, quantity):
    login(client, "buyer")
    response = client.post("/cart/add", data={"item_id": people["mug"], "quantity": quantity})
    assert response.status_code == 303
    assert _cart(people["buyer"]) == {}


def test_cart_shows_one_checkout_per_currency(client, people):
    login(client, "buyer")
    add(client, people["mug"])
    add(client, people["board"])
    html = client.get("/cart").get_data(as_text=True)
    assert "Items in EUR" in html and "Items in USD" in html
    assert html.count('name="currency" value="EUR"') == 1
    assert html.count('name="currency" value="USD"') == 1
    assert "€24.00" in html and "$59.00" in html


def test_checkout_takes_only_the_chosen_currency(client, people):
    login(client, "buyer")
    add(client, people["mug"], 2)
    add(client, people["candle"], 1)
    add(client, people["board"], 1)
    response = _checkout(client, "EUR")
    assert response.status_code == 303
    order_id = int(response.headers["Location"].rsplit("/", 1)[-1])
    assert response.headers["Location"] == f"/checkout/{order_id}"

    order = db.session.get(Order, order_id)
    assert order.currency == "EUR"
    assert {line.item_id for line in order.lines} == {people["mug"], people["candle"]}
    assert order.total_amount == 2 * 2400 + 1690
    assert _cart(people["buyer"]) == {people["board"]: 1}  # USD waits for its own checkout


def test_checkout_with_nothing_in_that_currency_makes_no_order(client, people):
    login(client, "buyer")
    add(client, people["mug"])
    response = _checkout(client, "USD")
    assert response.status_code == 303
    assert response.headers["Location"] == "/cart"
    assert _orders() == 0


def test_posted_prices_and_amounts_are_ignored(client, people):
    login(client, "buyer")
    response = client.post("/cart/add", data={"item_id": people["mug"], "quantity": 2,
                                              "price": "0.01", "price_amount": 1,
                                              "amount": 1, "currency": "JPY"})
    assert response.status_code == 303
    response = _checkout(client, "EUR", amount=1, total_amount=1, total="0.01", price="0.01",
                         unit_amount=1)
    assert response.status_code == 303
    order = db.session.execute(select(Order)).scalar_one()
    assert order.total_amount == 4800
    [line] = order.lines
    assert (line.unit_amount, line.quantity, line.line_total) == (2400, 2, 4800)
    assert db.session.get(Item, people["mug"]).price_amount == 2400


def test_order_uses_the_price_at_checkout_time(client, people):
    login(client, "buyer")
    add(client, people["mug"])
    db.session.get(Item, people["mug"]).price_amount = 2600  # the seller changed the price
    db.session.commit()
    _checkout(client, "EUR")
    assert db.session.execute(select(Order.total_amount)).scalar_one() == 2600


def test_stock_is_reserved_when_the_order_is_placed(client, people):
    login(client, "buyer")
    add(client, people["mug"], 3)
    assert _stock(people["mug"]) == 10  # a cart reserves nothing
    _checkout(client, "EUR")
    assert _stock(people["mug"]) == 7


def test_cannot_put_more_than_the_stock_in_the_cart(client, people):
    login(client, "buyer")
    response = client.post("/cart/add", data={"item_id": people["kettle"], "quantity": 4})
    assert response.status_code == 303
    assert "left in stock" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert _cart(people["buyer"]) == {}

    add(client, people["kettle"], 3)
    client.post("/cart/add", data={"item_id": people["kettle"], "quantity": 1})
    client.post("/cart/update", data={"item_id": people["kettle"], "quantity": 4})
    assert _cart(people["buyer"]) == {people["kettle"]: 3}


def test_cannot_check_out_stock_someone_else_bought_first(app, people):
    first, second = app.test_client(), app.test_client()
    login(first, "buyer")
    login(second, "other_buyer")
    add(first, people["kettle"], 2)
    add(second, people["kettle"], 2)
    assert _checkout(first, "USD").status_code == 303
    response = _checkout(second, "USD")
    assert response.headers["Location"] == "/cart"
    assert "left in stock" in second.get("/cart").get_data(as_text=True)
    assert _orders() == 1
    assert _stock(people["kettle"]) == 1
    assert _cart(people["other_buyer"]) == {people["kettle"]: 2}  # nothing lost


def test_inactive_items_cannot_be_added(client, people):
    db.session.get(Item, people["mug"]).active = False
    db.session.commit()
    login(client, "buyer")
    client.post("/cart/add", data={"item_id": people["mug"], "quantity": 1})
    assert _cart(people["buyer"]) == {}
    assert client.get(f"/items/{people['mug']}").status_code == 404


def test_sellers_cannot_buy_at_all(client, people):
    login(client, "seller")
    assert client.post("/cart/add", data={"item_id": people["candle"],
                                          "quantity": 1}).status_code == 403
    assert _cart(people["seller"]) == {}


def test_cart_service_refuses_a_sellers_own_item(app, people):
    from app.services.errors import ServiceError
    from app.services.shop import cart

    with pytest.raises(ServiceError, match="your own item"):
        cart.set_quantity(people["seller"], people["mug"], 1)
    assert _cart(people["seller"]) == {}


def test_shop_lists_active_items_with_formatted_prices(client, people):
    html = client.get("/").get_data(as_text=True)
    for title, price in [("Mug", "€24.00"), ("Board", "$59.00"), ("Candle", "€16.90"),
                         ("Kettle", "$42.00")]:
        assert title in html and price in html


def test_favicon_ico_leads_to_the_icon_pages_link(client):
    """A direct /favicon.ico request (bookmarks, crawlers) is not a 404."""
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response.headers["Location"].endswith("/static/favicon.svg")
    assert client.get(response.headers["Location"]).status_code == 200
