"""Every non-terminal state has an owner that revisits it (issue 11 §1.3): a capture job lost
after the commit, a Drop-in sale call that died, an UNKNOWN payment whose janitor job is gone,
and the janitor's last try, which hands the payment to support instead of giving up silently."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from app.clock import now
from app.database import locked, unit_of_work
from app.domain.payment_states import PaymentStatus
from app.extensions import db, queues
from app.jobs.payments import resolve_payment, sweep_payments
from app.models import EscrowHold, Order, Payment
from app.services.audit import Actor
from app.services.payments import actions, payments
from app.services.payments.janitor import JANITOR_DELAYS, unknown_payments
from tests.flows import (
    add,
    buyer_pays,
    closed_port_url,
    login,
    order_and_start,
    psp_call,
    settle,
)

ACTOR = Actor("system:test", "test")


def age(payment_id: int, minutes: int = 30) -> None:
    db.session.execute(update(Payment).where(Payment.id == payment_id).values(
        updated_at=now() - timedelta(minutes=minutes)))
    db.session.commit()


def fresh(payment_id: int) -> Payment:
    db.session.commit()
    db.session.expire_all()
    return db.session.get(Payment, payment_id)


def executions(stack, key: str) -> int:
    return psp_call(stack["psp_url"], "GET", "/v1/_stats").json()["executions"].get(key, 0)


def started(client, people) -> tuple[int, Payment]:
    login(client, "buyer")
    add(client, people["mug"], 1)
    return order_and_start(client, "EUR", "hosted")


def test_an_authorized_payment_whose_capture_job_was_lost_is_captured(app, client, people,
                                                                      stack, psp):
    order_id, payment = started(client, people)
    app.config["AUTO_CAPTURE"] = False  # stands for "the capture job never ran"
    try:
        buyer_pays(stack["psp_url"], payment.psp_reference)
        settle(psp)
    finally:
        app.config["AUTO_CAPTURE"] = True
    assert fresh(payment.id).status == "authorized"
    assert sweep_payments()["capture"] == 0  # too young: its own job is due first
    age(payment.id)

    assert sweep_payments()["capture"] == 1
    assert sweep_payments()["capture"] == 0

    payment = fresh(payment.id)
    assert payment.status == "captured"
    assert executions(stack, actions.action_key(payment, "capture")) == 1
    assert db.session.execute(select(EscrowHold).where(
        EscrowHold.order_id == order_id)).scalars().all()


def test_a_dropin_sale_that_never_happened_does_not_stay_authorizing(app, people):
    """The nonce was recorded (AUTHORIZING) and the process died before the sale call."""
    with unit_of_work():
        order = Order(buyer_id=people["buyer"], currency="EUR", total_amount=2400)
        db.session.add(order)
        db.session.flush()
        row = Payment(order_id=order.id, provider="sandbox", routing_reason="test",
                      integration_mode="dropin", amount=2400, currency="EUR",
                      idempotency_key=f"hf_owners_{order.id}")
        db.session.add(row)
        db.session.flush()
        payments.record_change(row, PaymentStatus.PROCESSING, "t", ACTOR)
        payments.record_change(row, PaymentStatus.AUTHORIZING, "card nonce submitted", ACTOR)
        payment_id = row.id
    age(payment_id)

    assert sweep_payments()["refresh"] == 1

    assert fresh(payment_id).status == "failed"


def test_an_unknown_payment_without_a_janitor_job_gets_one(app, client, people):
    _, payment = started(client, people)
    with unit_of_work():
        payments.record_change(locked(Payment, payment.id), PaymentStatus.UNKNOWN, "t", ACTOR)
    queues.connection.flushdb()  # the janitor job was lost with Redis
    age(payment.id)
    assert unknown_payments()[0].given_up

    assert sweep_payments()["janitor"] == 1

    assert not unknown_payments()[0].given_up


def test_the_janitors_last_try_hands_the_payment_to_support(app, client, people, stack,
                                                           swap_provider):
    _, payment = started(client, people)
    with unit_of_work():
        payments.record_change(locked(Payment, payment.id), PaymentStatus.UNKNOWN, "t", ACTOR)
    swap_provider(closed_port_url())
    try:
        resolve_payment(payment.id, len(JANITOR_DELAYS) - 1)
    except Exception:  # the PSP is down: the job fails loudly
        pass
    swap_provider(None)

    row = fresh(payment.id)
    assert row.status == "unknown" and row.needs_review
    assert "Re-check with the PSP now" in row.review_reason
    age(payment.id)
    assert sweep_payments()["janitor"] == 0  # support owns it now

    login(client, "support")
    page = client.get("/support/payments/unknown").get_data(as_text=True)
    assert "Re-check with the PSP now" in page
    answer = client.post(f"/support/payments/{payment.id}/recheck")
    assert answer.status_code == 303
    assert fresh(payment.id).status == "processing"  # the PSP knows the session: open
    order = db.session.get(Order, row.order_id)
    assert order.status == "awaiting_payment"


def test_a_session_without_an_expiry_of_ours_still_expires(app, client, people):
    """The janitor adopts a session whose create call timed out after the PSP made it: no
    expiry of ours was set. Once a session lifetime has passed, the owner expires it (found
    by the simulation, seed 2701: such a payment stayed PROCESSING for good)."""
    order_id, payment = started(client, people)
    db.session.execute(update(Payment).where(Payment.id == payment.id).values(expires_at=None))
    db.session.commit()
    age(payment.id, minutes=30)
    assert sweep_payments()["expire"] == 0  # younger than a session's lifetime
    age(payment.id, minutes=app.config["PAYMENT_SESSION_TTL"] // 60 + 30)
    assert sweep_payments()["expire"] == 1
    assert fresh(payment.id).status in ("expired", "cancelled")


def test_a_payment_that_never_reached_the_psp_does_not_stay_initiated(app, client, people,
                                                                     swap_provider):
    """The session's create call certainly failed (or the request died before it: Redis down,
    the old session's cancel timed out) and the buyer never tried again: nothing revisited the
    INITIATED payment, which held its order's stock for good (found by the simulation, seeds
    2000 and 2009: a saved-card payment whose request failed)."""
    from app.models import Item

    login(client, "buyer")
    add(client, people["mug"], 1)
    response = client.post("/checkout", data={"currency": "EUR"})
    order_id = int(response.headers["Location"].rstrip("/").split("/")[-1])
    stock = db.session.get(Item, people["mug"]).stock
    swap_provider(closed_port_url())
    try:
        client.post(f"/checkout/{order_id}/pay", data={"mode": "hosted"})
    finally:
        swap_provider(None)
    payment = db.session.execute(select(Payment).where(Payment.order_id == order_id)).scalar_one()
    assert payment.status == "initiated" and payment.psp_reference is None
    age(payment.id, minutes=30)
    assert sweep_payments()["expire"] == 0  # the buyer may still try again with its key
    age(payment.id, minutes=app.config["PAYMENT_SESSION_TTL"] // 60 + 30)

    assert sweep_payments()["expire"] == 1

    assert fresh(payment.id).status == "expired"
    assert db.session.get(Order, order_id).status == "cancelled"
    assert db.session.get(Item, people["mug"]).stock == stock + 1
