"""The shape of a checkout's transactions (issue 18): as few write transactions as
exactly-once allows, and the payment's row, key and fraud decision durable before the PSP."""
from __future__ import annotations

import pytest
from flask import current_app
from sqlalchemy import event, select, text

from app.extensions import db
from app.models import Order
from app.models.psp_calls import PspCall
from app.providers.resilience import GuardedProvider
from app.services.checkout import checkout, orders, provider_choice
from app.services.errors import PaymentUnavailable
from app.services.shop import addresses
from app.services.shop.addresses import ShipTo
from tests.flows import latest_payment
from tests.services.checkout.test_svc_checkout import (
    ACTOR,
    fill_cart,
    place,
    start_payment,
    stock,
)


def test_payment_row_key_and_decision_are_committed_before_the_psp_call(people, monkeypatch):
    seen = []
    real = GuardedProvider.create_session

    def looking(self, request):
        # What any other process (a janitor, a retry) would find if we died here.
        with db.engine.connect() as other:
            seen.extend(other.execute(text(
                "SELECT idempotency_key, fraud_decision, status FROM payments "
                "WHERE idempotency_key = :k"), {"k": request.idempotency_key}).all())
        return real(self, request)

    monkeypatch.setattr(GuardedProvider, "create_session", looking)
    order_id = place(people, ("mug", 1))
    start = start_payment(people, order_id)
    assert start.redirect_url
    assert len(seen) == 1
    key, decision, status = seen[0]
    assert key.startswith("hf_") and decision == "allow" and status == "initiated"


def test_starting_a_payment_is_two_write_transactions(people):
    """The payment with its screening in one, the PSP's answer in the other; before issue 18
    screening had a third of its own, and the PSP call log a fourth (it now rides in the
    answer's transaction: services/psp_calls.with_the_answer)."""
    order_id = place(people, ("mug", 1))
    commits = []
    call_log = []

    def listener(conn):
        commits.append(1)

    def logged(conn, cursor, statement, *_):
        if statement.lstrip().upper().startswith("INSERT INTO PSP_CALLS"):
            call_log.append(1)

    event.listen(db.engine, "commit", listener)
    event.listen(db.engine, "before_cursor_execute", logged)
    try:
        start_payment(people, order_id)
    finally:
        event.remove(db.engine, "commit", listener)
        event.remove(db.engine, "before_cursor_execute", logged)
    assert len(call_log) == 1  # create_session, one attempt
    assert len(commits) == 2
    logged = db.session.execute(select(PspCall.operation, PspCall.outcome)
                                .where(PspCall.payment_id == latest_payment(order_id).id)).all()
    assert logged == [("create_session", "ok")]  # committed, tied to its payment


def _start(people, order_id, ship_to, mode="hosted"):
    with current_app.test_request_context(base_url=current_app.config["PUBLIC_URL"]):
        return checkout.start_payment(order_id, people["buyer"], mode, ACTOR, ship_to=ship_to)


def _commits_during(work) -> int:
    """Transactions committed while work runs (the PSP call log's included)."""
    commits = []

    def committed(conn):
        commits.append(1)

    event.listen(db.engine, "commit", committed)
    try:
        work()
    finally:
        event.remove(db.engine, "commit", committed)
    return len(commits)


def test_the_shipping_address_commits_with_the_payment(people):
    """The pay request's address copy rides in the payment's transaction (before, it had a
    third of its own, committed before the payment was even routed)."""
    order_id = place(people, ("mug", 1))
    saved = addresses.saved(people["buyer"])[0]
    seen = []
    real = GuardedProvider.create_session

    def looking(self, request):
        with db.engine.connect() as other:  # what is durable when the PSP is asked
            seen.extend(other.execute(text(
                "SELECT address_id FROM order_addresses WHERE order_id = :o"),
                {"o": order_id}).scalars())
        return real(self, request)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(GuardedProvider, "create_session", looking)
        assert _commits_during(lambda: _start(people, order_id, ShipTo(None))) == 2
    assert seen == [saved.id]
    assert addresses.for_order(order_id).street_address == saved.street_address


def test_a_payment_refused_before_the_psp_leaves_no_address_copy(people, monkeypatch):
    order_id = place(people, ("mug", 1))

    def no_route(context):
        raise PaymentUnavailable("No payment provider can take this payment right now.")

    monkeypatch.setattr(provider_choice, "route_for", no_route)
    with pytest.raises(PaymentUnavailable):
        _start(people, order_id, ShipTo(str(addresses.saved(people["buyer"])[0].id)))
    db.session.rollback()
    assert addresses.for_order(order_id) is None  # no half-written state
    assert db.session.get(Order, order_id).payments == []


def test_resuming_a_session_still_settles_the_address_chosen(people):
    order_id = place(people, ("mug", 1))
    first = _start(people, order_id, ShipTo(None))
    paris = addresses.add(people["buyer"], {"name": "Zoé", "street_address": "5 rue de Rivoli",
                                            "postal_code": "75001", "city": "Paris",
                                            "country_code": "FR"}, ACTOR)
    again = _start(people, order_id, ShipTo(str(paris)))
    assert again.payment_id == first.payment_id  # the same PSP session, resumed
    db.session.expire_all()
    assert addresses.for_order(order_id).address_id == paris


def test_another_buyers_order_is_not_found_before_anything_is_written(people):
    order_id = place(people, ("mug", 1))
    with current_app.test_request_context(base_url=current_app.config["PUBLIC_URL"]):
        with pytest.raises(checkout.OrderNotFound):
            checkout.start_payment(order_id, people["other_buyer"], "hosted", ACTOR,
                                   ship_to=ShipTo(None))
    db.session.rollback()
    assert addresses.for_order(order_id) is None


def _flushes_during(work) -> int:
    """Unit-of-work passes that wrote something while work runs."""
    from sqlalchemy.orm import Session

    flushes = []

    def flushed(*_):
        flushes.append(1)

    event.listen(Session, "after_flush", flushed)
    try:
        work()
    finally:
        event.remove(Session, "after_flush", flushed)
    return len(flushes)


def test_placing_an_order_flushes_twice_whatever_its_lines(people):
    """The stock, the cart, the order and its lines in one flush (the quote and the fee rules'
    reads do not flush them first), the audit record in the other; each pass costs ≈ 1 ms."""
    fill_cart(people, ("mug", 2), ("candle", 1))
    order_id = []
    assert _flushes_during(lambda: order_id.append(
        orders.place_order(people["buyer"], "EUR", ACTOR))) == 2
    db.session.expire_all()
    order = db.session.get(Order, order_id[0])
    assert sorted((line.quantity, line.fee_source is not None) for line in order.lines) == [
        (1, True), (2, True)]  # every line kept its fee rule
    assert stock(people["mug"]) == 8 and stock(people["candle"]) == 9
    assert db.session.execute(text("SELECT count(*) FROM cart_items WHERE buyer_id = :b"),
                              {"b": people["buyer"]}).scalar_one() == 0
