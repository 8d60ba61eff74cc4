"""Fulfilment on the pages: the buyer's addresses (errors next to their fields), the seller's
address, carrier and tracking, the buyer's tracking, key and download, support's case facts, and
the seller's key pool."""
from __future__ import annotations

import io
import re

from app.extensions import db
from app.models import Item
from app.services.audit import Actor
from app.services.disputes import claims
from tests import flows
from tests.blueprints.money_steps import holds, paid_order
from tests.flows import login
from tests.services.shop.fulfil_steps import digital_item

HTMX = {"HX-Request": "true"}


def _client(app, who: str):
    client = app.test_client()
    login(client, who)
    return client


def _html(response) -> str:
    return response.get_data(as_text=True)


def test_a_bad_postcode_is_shown_next_to_its_field(app, people):
    buyer = _client(app, "buyer")
    response = buyer.post("/account/addresses", data={
        "name": "Ann", "street_address": "1 Main St", "city": "Austin", "country_code": "US",
        "postal_code": "ABC"})
    page = _html(response)
    assert response.status_code == 400
    assert re.search(r'id="postal_code-error">This is not a postcode of United States', page)
    assert 'id="country_area-error"' in page and 'aria-invalid="true"' in page
    response = buyer.post("/account/addresses", data={
        "name": "Ann", "street_address": "1 Main St", "city": "Austin", "country_code": "US",
        "country_area": "TX", "postal_code": "78701", "next": "/cart"})
    assert response.status_code == 303 and response.headers["Location"] == "/cart"
    assert "1 Main St, AUSTIN, TX" in _html(buyer.get("/account/addresses")).replace(
        "78701 AUSTIN", "AUSTIN")


def test_the_seller_sees_the_address_and_ships_with_carrier_and_the_buyer_sees_it(app, people,
                                                                                  stack, psp):
    order_id = paid_order(app, people, stack, psp)
    mug = holds(order_id)["Mug"]
    seller = _client(app, "seller")
    listing = _html(seller.get("/seller/to-ship", headers=HTMX))
    assert "Unter den Linden 1" in listing and "10117 BERLIN" in listing
    assert '<option value="DHL">DHL</option>' in listing
    response = seller.post(f"/seller/escrow/{mug.id}/ship",
                           data={"carrier": "DHL", "tracking_ref": "JD014600006281"},
                           headers=HTMX)
    assert response.status_code == 200 and "On their way" in _html(response)
    assert "Mark delivered" in _html(response)
    buyer = _client(app, "buyer")
    page = _html(buyer.get(f"/orders/{order_id}"))
    assert "Shipped with <strong>DHL</strong>" in page
    assert '<code data-tracking>JD014600006281</code>' in page
    assert "Ships to:</strong> <span data-ship-to>Buyer, Unter den Linden 1" in page
    assert seller.post(f"/seller/escrow/{mug.id}/delivered", headers=HTMX).status_code == 200
    page = _html(buyer.get(f"/orders/{order_id}"))
    assert "Delivered with <strong>DHL</strong>" in page
    other = _client(app, "other_seller")
    assert other.post(f"/seller/escrow/{mug.id}/delivered").status_code == 404


def test_support_sees_where_the_claimed_line_went(app, people, stack, psp):
    order_id = paid_order(app, people, stack, psp)
    mug = holds(order_id)["Mug"]
    _client(app, "seller").post(f"/seller/escrow/{mug.id}/ship",
                                data={"carrier": "UPS", "tracking_ref": "1Z999"})
    case = claims.open_claim(people["buyer"], mug.order_line_id, "not_received", "Where?", [],
                             Actor("buyer@test.example", "127.0.0.1"))
    page = _html(_client(app, "support").get(f"/support/disputes/{case.id}"))
    assert re.search(r"data-ship-to>Buyer, Unter den Linden 1, 10117 BERLIN, DE", page)
    assert "shipped with UPS · tracking <code>1Z999</code>" in page


def test_the_buyer_sees_the_key_and_downloads_the_file(app, people, stack, psp):
    digital_item(people, "licence_key", keys=2)
    digital_item(people, "download", title="E-book")
    client = app.test_client()
    order_id = flows.paid_order(client, people, stack, psp, {"Gem pack": 1, "E-book": 1})
    page = _html(client.get(f"/orders/{order_id}"))
    assert '<code class="licence-key" data-key>KEY-0000</code>' in page
    assert "Ships to" not in page  # nothing physical
    link = re.search(r'data-download href="([^"]+)"', page).group(1)
    response = client.get(link)
    assert response.status_code == 200 and response.data == b"the whole book"
    assert 'filename="book.epub"' in response.headers["Content-Disposition"]
    assert _client(app, "other_buyer").get(link).status_code == 410


def test_the_seller_fills_a_key_pool_from_the_page(app, people):
    seller = _client(app, "seller")
    mug = people["mug"]
    assert seller.post(f"/seller/items/{mug}/digital",
                       data={"kind": "licence_key", "credit_units": 0}).status_code == 303
    response = seller.post(f"/seller/items/{mug}/keys", data={"keys": "AAA-1\nAAA-2\n"})
    assert response.status_code == 303
    page = _html(seller.get(f"/seller/items/{mug}/digital"))
    assert "2 available · 0 delivered · 0 revoked" in page
    db.session.expire_all()
    assert db.session.get(Item, mug).stock == 2
    response = seller.post(f"/seller/items/{mug}/file",
                           data={"file": (io.BytesIO(b"x"), "a.pdf")},
                           content_type="multipart/form-data")
    assert response.status_code == 409 and "not sold as a download" in _html(response)
