"""A paid order's status follows its money (issue 12): the buyer's screens read the order, and
the order must say what the refunds did — through record_change, in the refund's transaction."""
from __future__ import annotations

from app.extensions import db
from app.models import Order
from app.services.audit import Actor
from app.services.refunds import refunds
from tests import flows
from tests.flows import latest_payment

SUPPORT = Actor("support@test.example", "127.0.0.1")


def _order(order_id: int) -> Order:
    db.session.expire_all()
    return db.session.get(Order, order_id)


def test_a_part_then_the_rest_refunded_moves_the_order_along(client, people, stack, psp):
    order_id = flows.paid_order(client, people, stack, psp, {"mug": 1, "candle": 1})
    payment = latest_payment(order_id)
    assert _order(order_id).status == "paid"

    refunds.request_refund(payment.id, amount=1000, reason="chipped", actor=SUPPORT,
                           by="support")
    assert (latest_payment(order_id).status, _order(order_id).status) == (
        "partially_refunded", "partially_refunded")

    refunds.request_refund(payment.id, reason="all of it", actor=SUPPORT, by="support")
    assert (latest_payment(order_id).status, _order(order_id).status) == ("refunded", "refunded")
    assert _order(order_id).money_taken  # the return page still says "payment received"
