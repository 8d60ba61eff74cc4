"""Fraud jobs: the void of a blocked authorization is safe to run twice, and the periodic sweep
is registered and keeps held authorizations from lapsing."""
from __future__ import annotations

from datetime import timedelta

from app.clock import now
from app.database import unit_of_work
from app.extensions import db
from app.jobs.fraud import sweep_reviews, void_blocked
from app.jobs.scheduling import PERIODIC
from app.models import Payment
from tests.flows import add, buyer_pays, latest_payment, login, order_and_start, psp_call, settle


def pay(app, people, stack, psp, token: str) -> Payment:
    client = app.test_client()
    login(client, "buyer")
    add(client, people["mug"])
    order_id, payment = order_and_start(client, "EUR", "hosted")
    buyer_pays(stack["psp_url"], payment.psp_reference, token)
    settle(psp)
    return latest_payment(order_id)


def test_the_void_of_a_blocked_authorization_runs_once(app, people, stack, psp):
    payment = pay(app, people, stack, psp, "pm_card_riskLevelHighest")
    assert payment.status == "cancelled"  # the job already ran through settle()
    assert void_blocked(payment.id) == "unchanged"  # a second run changes nothing
    session = psp_call(stack["psp_url"], "GET", f"/v1/payment_sessions/{payment.psp_reference}")
    assert session.json()["status"] == "canceled"


def test_the_sweep_is_periodic_and_voids_a_lapsing_review(app, people, stack, psp):
    assert PERIODIC["fraud_reviews"] == ("FRAUD_REVIEW_SWEEP_SECONDS",
                                         "app.jobs.fraud.sweep_reviews")
    assert app.config["FRAUD_REVIEW_SWEEP_SECONDS"] > 0
    payment = pay(app, people, stack, psp, "pm_card_riskLevelElevated")
    assert sweep_reviews() == {"voided": 0, "escalated": 0}
    with unit_of_work():
        db.session.get(Payment, payment.id).authorized_at = now() - timedelta(days=7)
    assert sweep_reviews() == {"voided": 1, "escalated": 0}
    assert latest_payment(payment.order_id).status == "cancelled"
