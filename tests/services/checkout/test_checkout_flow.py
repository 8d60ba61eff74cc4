"""Checkout through the live sandbox PSP: order → session → buyer pays → webhook → worker."""
from __future__ import annotations

from app.domain.payment_states import PaymentStatus
from app.extensions import db
from app.models import Item, Order, WebhookEvent
from tests.flows import add, buyer_pays, latest_payment, login, order_and_start, settle


def test_two_sellers_hosted_payment_is_captured_and_order_paid(client, people, psp, stack):
    login(client, "buyer")
    add(client, people["mug"], 2)
    add(client, people["candle"], 1)
    order_id, payment = order_and_start(client, "EUR", "hosted")

    assert payment.status == PaymentStatus.PROCESSING.value
    assert payment.redirect_url.startswith(stack["psp_url"] + "/pay/")
    assert payment.amount == 2 * 2400 + 1690
    order = db.session.get(Order, order_id)
    assert {line.seller_id for line in order.lines} == {people["seller"], people["other_seller"]}
    assert db.session.get(Item, people["mug"]).stock == 8  # reserved at order creation

    assert buyer_pays(stack["psp_url"], payment.psp_reference).status_code == 200
    settle(psp)

    payment = latest_payment(order_id)
    assert payment.status == PaymentStatus.CAPTURED.value
    assert payment.amount_captured == payment.amount
    assert payment.psp_fee_amount == (payment.amount * 290 * 2 + 10_000) // 20_000 + 30
    assert payment.card_last4 == "4242"
    assert db.session.get(Order, order_id).status == "paid"
    assert [c.to_status for c in payment.changes] == ["processing", "authorized", "captured"]
    events = db.session.query(WebhookEvent).all()
    assert events and all(e.status in ("processed", "ignored") for e in events)
