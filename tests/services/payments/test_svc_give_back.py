"""Money the PSP took that a payment must not keep is given back (issue 11 §1.6, §1.7): a second
payment of an order another payment already paid, and a late authorization of a session we had
cancelled, are voided (or refunded) automatically, recorded, and put in front of support."""
from __future__ import annotations

from flask import current_app
from sqlalchemy import select

from app.database import locked, unit_of_work
from app.domain.payment_states import PaymentStatus
from app.extensions import db
from app.models import AuditRecord, EscrowHold, Order, Payment
from app.services.audit import Actor
from app.services.checkout import checkout
from app.services.money.ledger_checks import check_all
from app.services.payments import payments
from tests.flows import add, buyer_pays, latest_payment, login, order_and_start, psp_call, settle

ACTOR = Actor("buyer@test.example", "127.0.0.1")


def psp_session(stack, payment: Payment) -> dict:
    return psp_call(stack["psp_url"], "GET", f"/v1/payment_sessions/{payment.psp_reference}").json()


def fresh(payment_id: int) -> Payment:
    db.session.commit()
    db.session.expire_all()
    return db.session.get(Payment, payment_id)


def two_live_sessions(client, people) -> tuple[int, Payment, Payment]:
    """An order with two open sessions at the PSP (a replacement while the old one is live)."""
    login(client, "buyer")
    add(client, people["mug"], 1)
    order_id, first = order_and_start(client, "EUR", "hosted")
    second_id = checkout._new_payment(order_id, "embedded", ACTOR)
    with current_app.test_request_context():  # the session's return URLs are ours
        checkout._open_session(second_id, ACTOR)
    return order_id, first, db.session.get(Payment, second_id)


def test_a_second_authorization_of_a_paid_order_is_voided_and_told(client, people, stack, psp):
    order_id, first, second = two_live_sessions(client, people)
    buyer_pays(stack["psp_url"], first.psp_reference)
    settle(psp)
    buyer_pays(stack["psp_url"], second.psp_reference)  # the buyer paid twice
    settle(psp)

    assert fresh(first.id).status == "captured"
    second = fresh(second.id)
    assert (second.status, second.give_back, second.duplicate_of) == ("cancelled", "duplicate",
                                                                      first.id)
    assert second.needs_review and f"#{order_id}" in second.review_reason
    assert psp_session(stack, second)["status"] == "canceled"
    assert psp_session(stack, second)["amount_captured"] == 0
    assert len(db.session.execute(select(EscrowHold).where(
        EscrowHold.order_id == order_id)).scalars().all()) == 1
    assert db.session.execute(select(AuditRecord).where(
        AuditRecord.action == "payment.given_back")).scalars().all()
    assert check_all() == []


def test_a_second_payment_captured_at_the_psp_is_refunded_and_booked(client, people, stack, psp):
    order_id, first, second = two_live_sessions(client, people)
    buyer_pays(stack["psp_url"], first.psp_reference)
    settle(psp)
    buyer_pays(stack["psp_url"], second.psp_reference)
    # Captured before we could look (another tool, an auto-capturing PSP).
    psp_call(stack["psp_url"], "POST", f"/v1/payment_sessions/{second.psp_reference}/capture", {})
    settle(psp)

    second = fresh(second.id)
    at_psp = psp_session(stack, second)
    assert at_psp["amount_captured"] == at_psp["amount_refunded"] == second.amount
    assert second.status == "refunded" and second.give_back == "duplicate"
    assert fresh(first.id).status == "captured"
    assert db.session.get(Order, order_id).status == "paid"
    assert check_all() == []


def test_a_late_authorization_of_a_cancelled_session_is_voided(client, people, stack, psp):
    login(client, "buyer")
    add(client, people["mug"], 1)
    order_id, payment = order_and_start(client, "EUR", "hosted")
    # Cancelled here while create_session was still in flight: the PSP never heard of it.
    with unit_of_work():
        payments.record_change(locked(Payment, payment.id), PaymentStatus.CANCELLED,
                               "replaced before reaching the PSP", ACTOR)
    buyer_pays(stack["psp_url"], payment.psp_reference)
    settle(psp)

    payment = fresh(payment.id)
    assert payment.status == "cancelled" and payment.give_back == "abandoned"
    assert payment.needs_review
    assert psp_session(stack, payment)["status"] == "canceled"
    assert latest_payment(order_id).id == payment.id
