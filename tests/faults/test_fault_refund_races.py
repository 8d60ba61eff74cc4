"""Faults: refunds requested and settled at the same time never return more than was captured,
and never post twice (each thread has its own app context and database session)."""
from __future__ import annotations

import threading

from sqlalchemy import select

from app.extensions import db
from app.models import LedgerTransaction, Payment
from app.models.refunds import Refund
from app.services.audit import Actor
from app.services.errors import ServiceError
from app.services.money.ledger_checks import check_all
from app.services.refunds import refunds
from tests import flows
from tests.flows import latest_payment, psp_call, slow_proxy

SUPPORT = Actor("support@test.example", "127.0.0.1")


def captured(client, people, stack, psp) -> Payment:
    order_id = flows.paid_order(client, people, stack, psp, {"mug": 2, "candle": 1})
    return latest_payment(order_id)


def at_once(app, count: int, work) -> tuple[list, list]:
    """Run `work()` in `count` threads released together; (results, service errors)."""
    results, errors, barrier = [], [], threading.Barrier(count)

    def run():
        with app.app_context():
            barrier.wait()
            try:
                results.append(work())
            except ServiceError as exc:
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads)
    return results, errors


def refund_postings() -> int:
    db.session.commit()
    return len(db.session.execute(select(LedgerTransaction).where(
        LedgerTransaction.event == "refund")).scalars().all())


def psp_refunded(stack, payment: Payment) -> int:
    return psp_call(stack["psp_url"], "GET",
                    f"/v1/payment_sessions/{payment.psp_reference}").json()["amount_refunded"]


def test_concurrent_partial_refunds_stop_at_what_was_captured(app, client, people, stack, psp):
    payment = captured(client, people, stack, psp)
    payment_id = payment.id

    results, errors = at_once(app, 4, lambda: refunds.request_refund(
        payment_id, amount=2000, reason="race", actor=SUPPORT, by="support").status)

    assert sorted(results) == ["succeeded"] * 3, (results, errors)
    assert len(errors) == 1 and "At most €4.90 can still be refunded" in errors[0].message
    db.session.commit()
    assert db.session.get(Payment, payment_id).amount_refunded == 6000
    assert psp_refunded(stack, payment) == 6000
    assert refund_postings() == 3
    assert check_all() == []


def test_concurrent_full_refunds_refund_once(app, client, people, stack, psp):
    payment = captured(client, people, stack, psp)
    payment_id = payment.id

    results, errors = at_once(app, 3, lambda: refunds.request_refund(
        payment_id, reason="race", actor=SUPPORT, by="support").amount)

    assert results == [6490], (results, errors)
    assert len(errors) == 2
    assert psp_refunded(stack, payment) == 6490
    assert refund_postings() == 1
    db.session.commit()
    assert db.session.get(Payment, payment_id).status == "refunded"


def test_a_pending_refund_settled_by_two_workers_at_once_posts_once(
        app, client, people, stack, psp, swap_provider, serve_wsgi):
    payment = captured(client, people, stack, psp)
    proxy = slow_proxy(stack["psp_url"], forward=True)
    swap_provider(serve_wsgi(proxy), timeout=0.5)
    refund = refunds.request_refund(payment.id, amount=1500, reason="x", actor=SUPPORT,
                                    by="support")
    proxy.settled()
    swap_provider(None)
    assert refund.status == "pending"
    refund_id = refund.id

    results, errors = at_once(app, 3, lambda: refunds.refresh(refund_id, SUPPORT).status)

    assert results == ["succeeded"] * 3 and not errors
    assert refund_postings() == 1
    db.session.commit()
    assert db.session.get(Payment, payment_id := payment.id).amount_refunded == 1500
    assert db.session.get(Refund, refund_id).status == "succeeded"
    assert psp_refunded(stack, db.session.get(Payment, payment_id)) == 1500
