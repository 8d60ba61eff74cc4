"""The review queue: approve captures, reject voids (stock back, buyer told), confirmed fraud and
lost chargebacks feed the watchlist, held authorizations never lapse silently; the admin's
metrics; the rules file edited, validated and reloaded."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.clock import now
from app.database import unit_of_work
from app.extensions import db
from app.models import FraudListEntry, Item, Notification, Order, Payment
from app.services.audit import Actor
from app.services.errors import Conflict
from app.services.fraud import metrics, review, rules_admin, rules_file
from app.services.fraud.rules_admin import InvalidRules
from tests.flows import (
    add,
    buyer_pays,
    latest_payment,
    login,
    order_and_start,
    psp_call,
    run_jobs,
    settle,
)

SUPPORT = Actor("support@test.example", "127.0.0.1", None)
DAY = 86400


def held(app, people, stack, psp, token="pm_card_riskLevelElevated", buyer="buyer") -> Payment:
    client = app.test_client()
    login(client, buyer)
    add(client, people["mug"], 2)
    order_id, payment = order_and_start(client, "EUR", "hosted")
    buyer_pays(stack["psp_url"], payment.psp_reference, token)
    settle(psp)
    payment = latest_payment(order_id)
    assert payment.review_status == "pending", payment.fraud_reasons
    return payment


def at_psp(stack, payment: Payment) -> dict:
    return psp_call(stack["psp_url"], "GET",
                    f"/v1/payment_sessions/{payment.psp_reference}").json()


def test_the_queue_lists_held_payments_with_linked_accounts(app, people, stack, psp):
    first = held(app, people, stack, psp)
    second = held(app, people, stack, psp, buyer="other_buyer")
    assert [p.id for p in review.queue()] == [first.id, second.id]
    case = review.case(second.id)
    assert case.buyer.email == "other_buyer@test.example"
    # Same test client address and the same test card: the other buyer is linked.
    linked = {link.payment.id: link.shared for link in case.linked}
    assert "card" in linked[first.id] and "address" in linked[first.id]
    assert case.lapses_at == second.authorized_at + timedelta(days=7)


def test_approve_captures_at_the_psp_and_pays_the_order(app, people, stack, psp):
    payment = held(app, people, stack, psp)
    review.approve(payment.id, SUPPORT)
    payment = latest_payment(payment.order_id)
    assert (payment.status, payment.review_status) == ("captured", "approved")
    assert payment.reviewed_by == SUPPORT.label
    assert at_psp(stack, payment)["status"] == "captured"
    assert db.session.get(Order, payment.order_id).status == "paid"
    with pytest.raises(Conflict):
        review.reject(payment.id, SUPPORT)  # decided once


def test_reject_voids_releases_stock_and_tells_the_buyer(app, people, stack, psp):
    payment = held(app, people, stack, psp)
    assert db.session.get(Item, people["mug"]).stock == 8
    review.reject(payment.id, SUPPORT, confirmed_fraud=True)
    payment = latest_payment(payment.order_id)
    assert (payment.status, payment.review_status) == ("cancelled", "rejected")
    assert at_psp(stack, payment)["status"] == "canceled"
    assert db.session.get(Order, payment.order_id).status == "cancelled"
    assert db.session.get(Item, people["mug"]).stock == 10
    told = db.session.execute(select(Notification).where(
        Notification.user_id == people["buyer"],
        Notification.kind == "payment_not_accepted")).scalar_one()
    assert "nothing was charged" in told.body
    watched = {(e.kind, e.value) for e in db.session.execute(
        select(FraudListEntry).where(FraudListEntry.list == "watch")).scalars()}
    assert watched == {("fingerprint", payment.card_fingerprint),
                       ("device", payment.device_id), ("email", "buyer@test.example")}
    # The watchlist steps the buyer's next attempt up to 3-D Secure, on its way to review.
    client = app.test_client()
    login(client, "buyer")
    add(client, people["mug"])
    order_id, again = order_and_start(client, "EUR", "hosted")
    assert again.fraud_decision == "review"
    assert "Card, device or email linked to a lost chargeback or confirmed fraud" in \
        again.fraud_reasons
    buyer_pays(stack["psp_url"], again.psp_reference, "pm_card_visa")
    assert at_psp(stack, again)["status"] == "requires_action"


def test_a_held_authorization_is_escalated_then_voided_before_it_lapses(app, people, stack,
                                                                        psp):
    payment = held(app, people, stack, psp)
    with unit_of_work():
        db.session.get(Payment, payment.id).authorized_at = now() - timedelta(days=5, hours=1)
    assert review.sweep(SUPPORT) == {"voided": 0, "escalated": 1}
    assert latest_payment(payment.order_id).needs_review
    assert review.sweep(SUPPORT) == {"voided": 0, "escalated": 0}  # once
    with unit_of_work():
        db.session.get(Payment, payment.id).authorized_at = now() - timedelta(days=6, hours=1)
    assert review.sweep(SUPPORT)["voided"] == 1
    payment = latest_payment(payment.order_id)
    assert (payment.status, payment.review_status) == ("cancelled", "voided_expiry")
    assert at_psp(stack, payment)["status"] == "canceled"
    assert review.sweep(SUPPORT) == {"voided": 0, "escalated": 0}


def test_a_lost_chargeback_puts_card_device_and_email_on_the_watchlist(app, people, stack,
                                                                       psp):
    from tests.services.disputes.test_svc_chargebacks import (
        case_of,
        close_at_psp,
        disputed_order,
    )

    order_id = disputed_order(app, people, stack, psp)
    close_at_psp(stack, psp, case_of(order_id), "lost")
    payment = latest_payment(order_id)
    watched = {(e.kind, e.value) for e in db.session.execute(
        select(FraudListEntry).where(FraudListEntry.list == "watch")).scalars()}
    assert ("fingerprint", payment.card_fingerprint) in watched
    assert ("email", "buyer@test.example") in watched


def test_metrics_show_rates_reviews_and_chargebacks_by_rule(app, people, stack, psp):
    from tests.services.disputes.test_svc_chargebacks import disputed_order

    approved = held(app, people, stack, psp)
    review.approve(approved.id, SUPPORT)
    disputed_order(app, people, stack, psp, {"candle": 1})
    run_jobs()
    seen = metrics.metrics()
    assert seen.screened == 2
    assert seen.decisions == {"review": 1, "allow": 1}
    assert seen.rate("review") == 0.5
    assert seen.reviews == {"approved": 1}
    by_rule = {r.rule: r for r in seen.rules}
    first = by_rule["new-account"]
    assert (first.fired, first.captured, first.chargebacks) == (2, 2, 1)
    assert first.chargeback_rate == 0.5
    assert by_rule["psp-risk-elevated"].reviewed == 1


def test_rules_are_validated_with_lines_saved_and_in_force(app, shipped_rules):
    view = rules_admin.current_view()
    broken = view.text + '\n[[rule]]\nname = "oops"\nsignal = "amount"\nat_least = "lots"\n'
    with pytest.raises(InvalidRules) as raised:
        rules_admin.update(broken, SUPPORT, view.digest)
    line = len(view.text.splitlines()) + 5
    assert raised.value.problems == [
        f"line {line}, column 1: rule “oops”: at_least: 'lots' is not a int (the type of amount)"]
    assert rules_file.read_text() == view.text  # nothing written
    stricter = view.text.replace("require_3ds = 40", "require_3ds = 10")
    old, new = rules_admin.update(stricter, SUPPORT, view.digest)
    assert old != new and rules_file.current().thresholds.require_3ds == 10
    with pytest.raises(Conflict):
        rules_admin.update(view.text, SUPPORT, view.digest)  # someone saved meanwhile


def test_the_capture_owner_never_captures_a_held_authorization(app, people, stack, psp):
    """The sweep that captures authorizations whose capture job was lost leaves a payment held
    for review alone, however long it waits: only a person's approval captures it."""
    from sqlalchemy import update

    from app.services.payments import owners

    payment = held(app, people, stack, psp)
    db.session.execute(update(Payment).where(Payment.id == payment.id).values(
        updated_at=now() - timedelta(hours=2)))
    db.session.commit()
    assert payment.id not in owners.overdue().capture
    assert at_psp(stack, payment)["status"] == "authorized"
    review.approve(payment.id, SUPPORT)
    assert latest_payment(payment.order_id).status == "captured"
