"""Checkout services: place_order from the catalogue, start/resume/switch the PSP session."""
from __future__ import annotations

import threading

import pytest
from flask import current_app
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select
from werkzeug.serving import make_server
from werkzeug.wrappers import Response

from app.extensions import db, queues
from app.models import CartItem, Item, Order, Payment
from app.services.audit import Actor
from app.services.checkout import checkout, orders
from app.services.errors import Conflict, PaymentUnavailable, ServiceError
from app.services.shop import cart
from tests.flows import buyer_pays, closed_port_url, psp_call

ACTOR = Actor("buyer@test.example", "127.0.0.1")


@pytest.fixture
def slow_server():
    """A server that holds every answer until the test is over (the adapter gives up first,
    whatever its timeout and however loaded the machine is)."""
    over = threading.Event()

    def slow(environ, start_response):
        over.wait(60)
        return Response("{}", mimetype="application/json")(environ, start_response)

    server = make_server("127.0.0.1", 0, slow, threaded=True)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    yield f"http://127.0.0.1:{server.port}"
    over.set()
    server.shutdown()
    server.server_close()


def fill_cart(people, *items) -> None:
    for name, quantity in items:
        cart.set_quantity(people["buyer"], people[name], quantity)


def place(people, *items, currency="EUR") -> int:
    fill_cart(people, *items)
    return orders.place_order(people["buyer"], currency, ACTOR)


def start_payment(people, order_id: int, mode: str = "hosted") -> checkout.PaymentStart:
    with current_app.test_request_context(base_url=current_app.config["PUBLIC_URL"]):
        return checkout.start_payment(order_id, people["buyer"], mode, ACTOR)


def payments_of(order_id: int) -> list[Payment]:
    db.session.expire_all()
    return db.session.get(Order, order_id).payments


def stock(item_id: int) -> int:
    db.session.expire_all()
    return db.session.get(Item, item_id).stock


def psp_sessions_for(psp_url: str, payment_id: int) -> list[dict]:
    """The PSP sessions created for a payment (found by our reference, its random key)."""
    key = db.session.get(Payment, payment_id).idempotency_key
    return psp_call(psp_url, "GET",
                    f"/v1/payment_sessions?client_reference_id={key}").json()["data"]


def psp_stats(psp_url: str) -> dict:
    return psp_call(psp_url, "GET", "/v1/_stats").json()["executions"]


# --- place_order --------------------------------------------------------------------------

def test_place_order_prices_lines_from_the_catalogue(people):
    fill_cart(people, ("mug", 2), ("candle", 1))
    db.session.get(Item, people["mug"]).price_amount = 2600  # the seller changed the price
    db.session.commit()

    order_id = orders.place_order(people["buyer"], "EUR", ACTOR)

    order = db.session.get(Order, order_id)
    assert order.total_amount == 2 * 2600 + 1690 and order.currency == "EUR"
    assert [(line.unit_amount, line.quantity, line.line_total) for line in order.lines] == [
        (2600, 2, 5200), (1690, 1, 1690)]
    assert {line.seller_id for line in order.lines} == {people["seller"], people["other_seller"]}
    assert (stock(people["mug"]), stock(people["candle"])) == (8, 9)
    assert db.session.scalars(select(CartItem).where(
        CartItem.buyer_id == people["buyer"])).all() == []


def test_insufficient_stock_refuses_without_writing_anything(people):
    fill_cart(people, ("candle", 2), ("mug", 3))  # the candle line is reserved first
    db.session.get(Item, people["mug"]).stock = 2  # someone else bought most of the mugs
    db.session.commit()

    with pytest.raises(ServiceError, match="Only 2 of"):
        orders.place_order(people["buyer"], "EUR", ACTOR)

    db.session.expire_all()
    assert db.session.scalars(select(Order).where(Order.buyer_id == people["buyer"])).all() == []
    assert (stock(people["mug"]), stock(people["candle"])) == (2, 10)
    assert len(db.session.scalars(select(CartItem).where(
        CartItem.buyer_id == people["buyer"])).all()) == 2


def test_an_order_holds_one_currency(people):
    fill_cart(people, ("mug", 1), ("board", 1), ("kettle", 2))

    eur = orders.place_order(people["buyer"], "EUR", ACTOR)
    left = db.session.scalars(select(CartItem).where(CartItem.buyer_id == people["buyer"])).all()
    assert sorted(row.item_id for row in left) == sorted([people["board"], people["kettle"]])
    usd = orders.place_order(people["buyer"], "USD", ACTOR)

    assert {line.currency for line in db.session.get(Order, eur).lines} == {"EUR"}
    assert db.session.get(Order, eur).total_amount == 2400
    assert {line.currency for line in db.session.get(Order, usd).lines} == {"USD"}
    assert db.session.get(Order, usd).total_amount == 5900 + 2 * 4200
    with pytest.raises(ServiceError):
        orders.place_order(people["buyer"], "USD", ACTOR)  # nothing left in USD


# --- start_payment ------------------------------------------------------------------------

def test_start_payment_resumes_the_open_session_for_the_same_mode(people, stack):
    order_id = place(people, ("mug", 1))

    first = start_payment(people, order_id, "hosted")
    again = start_payment(people, order_id, "hosted")

    assert again == first
    assert len(payments_of(order_id)) == 1
    assert len(psp_sessions_for(stack["psp_url"], first.payment_id)) == 1


def test_switching_mode_cancels_the_old_session_and_opens_a_new_payment(people, stack):
    order_id = place(people, ("mug", 2))
    hosted = start_payment(people, order_id, "hosted")
    old_reference = payments_of(order_id)[0].psp_reference

    embedded = start_payment(people, order_id, "embedded")

    old, new = payments_of(order_id)
    assert (old.id, new.id) == (hosted.payment_id, embedded.payment_id)
    assert old.status == "cancelled" and new.status == "processing"
    assert new.integration_mode == "embedded" and new.embed_url
    assert new.psp_reference != old_reference
    raw = psp_call(stack["psp_url"], "GET", f"/v1/payment_sessions/{old_reference}").json()
    assert raw["status"] == "canceled"
    order = db.session.get(Order, order_id)
    assert order.status == "awaiting_payment" and stock(people["mug"]) == 8


def test_switching_after_the_buyer_paid_the_old_session_is_refused(people, stack):
    order_id = place(people, ("mug", 1))
    hosted = start_payment(people, order_id, "hosted")
    old_reference = payments_of(order_id)[0].psp_reference
    assert buyer_pays(stack["psp_url"], old_reference).status_code == 200  # no webhook yet

    with pytest.raises(Conflict, match="already paid"):
        start_payment(people, order_id, "embedded")

    paid, *others = payments_of(order_id)
    assert paid.id == hosted.payment_id and paid.status == "authorized"
    assert all(p.psp_reference is None and p.status == "cancelled" for p in others)
    for payment in others:
        assert psp_sessions_for(stack["psp_url"], payment.id) == []
    assert db.session.get(Order, order_id).status == "paid"
    with pytest.raises(Conflict):
        start_payment(people, order_id, "embedded")


def test_unreachable_psp_keeps_the_payment_initiated_and_a_retry_reuses_its_key(
        people, stack, swap_provider):
    order_id = place(people, ("mug", 1))
    swap_provider(closed_port_url())

    with pytest.raises(PaymentUnavailable):
        start_payment(people, order_id, "hosted")

    (payment,) = payments_of(order_id)
    key = payment.idempotency_key
    assert payment.status == "initiated" and payment.psp_reference is None and key
    assert key not in psp_stats(stack["psp_url"])

    swap_provider(None)
    retried = start_payment(people, order_id, "hosted")

    (payment,) = payments_of(order_id)
    assert retried.payment_id == payment.id
    assert payment.idempotency_key == key and payment.status == "processing"
    assert psp_stats(stack["psp_url"])[key] == 1


def test_psp_timeout_on_create_makes_the_payment_unknown_and_schedules_the_janitor(
        people, swap_provider, slow_server):
    order_id = place(people, ("mug", 1))
    swap_provider(slow_server, timeout=0.3)

    with pytest.raises(PaymentUnavailable):
        start_payment(people, order_id, "hosted")

    (payment,) = payments_of(order_id)
    assert payment.status == "unknown"
    assert [c.to_status for c in payment.changes] == ["unknown"]
    registry = ScheduledJobRegistry(queue=queues.queue)
    assert f"janitor-{payment.id}" in registry.get_job_ids()
    # While we don't know, the buyer cannot open a second session for the same order.
    swap_provider(None)
    with pytest.raises(Conflict):
        start_payment(people, order_id, "embedded")
    assert len(payments_of(order_id)) == 1


def test_start_payment_schedules_the_expiry_job(people):
    order_id = place(people, ("mug", 1))

    started = start_payment(people, order_id, "hosted")

    registry = ScheduledJobRegistry(queue=queues.queue)
    assert f"expire-{started.payment_id}" in registry.get_job_ids()


def test_another_buyers_order_cannot_be_paid(people):
    order_id = place(people, ("mug", 1))

    with pytest.raises(ServiceError):
        with current_app.test_request_context(base_url=current_app.config["PUBLIC_URL"]):
            checkout.start_payment(order_id, people["other_buyer"], "hosted", ACTOR)
    assert payments_of(order_id) == []


def test_checkout_during_a_redis_outage_still_sends_the_buyer_to_pay(people, monkeypatch):
    """Found by the simulation (seed 0): with Redis down, the session was created at the PSP and
    committed, then the expiry timer's enqueue raised and the buyer got an error page. The
    timer is a shortcut (the payment sweeper owns a session past its expiry)."""
    from redis.exceptions import ConnectionError as RedisDown

    def refused(*args, **kwargs):
        raise RedisDown("Connection refused")

    order_id = place(people, ("mug", 1))
    monkeypatch.setattr(queues, "enqueue_in", refused)

    started = start_payment(people, order_id, "hosted")

    assert started.redirect_url
    payment = db.session.get(Payment, started.payment_id)
    assert payment.status == "processing" and payment.expires_at is not None
