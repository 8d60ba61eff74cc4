"""Mass assignment (ASVS 15.3): extra fields for amount, currency, status, seller, fee or role
posted to any form change nothing the form does not offer."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Item, Order, Payment, User
from tests.flows import PASSWORD, add, login, order_and_start

EXTRA = {"amount": "1", "currency": "JPY", "status": "captured", "seller_id": "999",
         "fee": "0", "fee_amount": "0", "total_amount": "1", "price_amount": "1",
         "amount_captured": "999999", "unit_amount": "1", "line_total": "1", "buyer_id": "999",
         "role": "admin", "state": "paid", "order_status": "paid", "needs_review": "0",
         "is_admin": "1", "mfa_enabled_at": "", "id": "1"}


def _with(extra: dict, **data) -> dict:
    return {**extra, **data}


@pytest.mark.parametrize("role", ["buyer", "seller"])
def test_signup_cannot_choose_a_staff_role(app, people, role):
    client = app.test_client()
    email = f"new-{role}@test.example"
    response = client.post("/signup", data=_with(
        EXTRA, display_name="New", email=email, password="a long enough passphrase",
        role="admin", is_admin="1"))
    created = db.session.execute(select(User).where(User.email == email)).scalar_one_or_none()
    assert response.status_code == 400 and created is None
    # The form's own choice still works, the extras do nothing.
    extra = {k: v for k, v in EXTRA.items() if k != "role"}
    response = client.post("/signup", data=_with(
        extra, display_name="New", email=email, password="a long enough passphrase", role=role))
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:300]
    db.session.expire_all()
    user = db.session.execute(select(User).where(User.email == email)).scalar_one()
    assert user.role == role and user.id not in people.values() and user.mfa_enabled_at is None


def test_order_and_payment_amounts_come_from_the_catalogue(app, people):
    client = app.test_client()
    login(client, "buyer")
    response = client.post("/cart/add", data=_with(EXTRA, item_id=people["mug"], quantity=2))
    assert response.status_code == 303
    response = client.post("/checkout", data=_with(EXTRA, currency="EUR"))
    assert response.status_code == 303
    order_id = int(response.headers["Location"].rsplit("/", 1)[-1])
    response = client.post(f"/checkout/{order_id}/pay", data=_with(EXTRA, mode="hosted"))
    assert response.status_code == 303
    db.session.expire_all()
    order = db.session.get(Order, order_id)
    assert (order.total_amount, order.currency, order.status, order.buyer_id) == (
        4800, "EUR", "awaiting_payment", people["buyer"])
    assert [(line.unit_amount, line.line_total, line.seller_id) for line in order.lines] == [
        (2400, 4800, people["seller"])]
    payment = db.session.execute(select(Payment).where(Payment.order_id == order_id)).scalar_one()
    assert (payment.amount, payment.currency, payment.amount_captured) == (4800, "EUR", 0)
    assert payment.status == "processing"


def test_a_new_item_belongs_to_its_seller_at_the_price_typed(app, people):
    client = app.test_client()
    login(client, "seller")
    response = client.post("/seller/items/new", data=_with(
        {k: v for k, v in EXTRA.items() if k != "currency"}, title="Lamp", description="",
        price="12.50", currency="EUR", stock=3, category="general", active="y",
        seller_id=people["other_seller"]))
    assert response.status_code == 303
    item = db.session.execute(select(Item).where(Item.title == "Lamp")).scalar_one()
    assert (item.seller_id, item.price_amount, item.currency) == (people["seller"], 1250, "EUR")


def test_editing_an_item_cannot_move_it_to_another_seller(app, people):
    client = app.test_client()
    login(client, "seller")
    response = client.post(f"/seller/items/{people['mug']}/edit", data=_with(
        {k: v for k, v in EXTRA.items() if k != "currency"}, title="Mug", description="",
        price="24.00", currency="EUR", stock=10, category="general", active="y",
        seller_id=people["other_seller"]))
    assert response.status_code == 303
    db.session.expire_all()
    item = db.session.get(Item, people["mug"])
    assert (item.seller_id, item.price_amount) == (people["seller"], 2400)


def test_an_empty_edit_post_keeps_the_item_as_it_was(app, people):
    # An edit post that leaves fields out keeps them (it used to crash on the price: a 500).
    client = app.test_client()
    login(client, "seller")
    response = client.post(f"/seller/items/{people['mug']}/edit", data={})
    assert response.status_code in (303, 400)
    db.session.expire_all()
    item = db.session.get(Item, people["mug"])
    assert (item.title, item.price_amount, item.currency, item.stock) == ("Mug", 2400, "EUR", 10)


def test_extra_fields_on_the_cart_and_payment_forms_leave_a_paid_status_alone(app, people, psp):
    client = app.test_client()
    login(client, "buyer")
    add(client, people["candle"])
    order_id, payment = order_and_start(client, "EUR", "embedded")
    client.post(f"/checkout/{order_id}/pay", data=_with(EXTRA, mode="embedded"))
    client.post("/cart/update", data=_with(EXTRA, item_id=people["candle"], quantity=1))
    db.session.expire_all()
    assert db.session.get(Payment, payment.id).status == "processing"
    assert db.session.get(Order, order_id).total_amount == 1690


def test_password_change_cannot_set_the_role(app, people):
    client = app.test_client()
    login(client, "buyer")
    client.post("/account/password", data=_with(
        EXTRA, current_password=PASSWORD, new_password="another long passphrase",
        repeat_password="another long passphrase"))
    db.session.expire_all()
    assert db.session.get(User, people["buyer"]).role == "buyer"
