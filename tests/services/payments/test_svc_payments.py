"""apply_report: PSP reports only ever move a payment forward, recorded in one transaction."""
from __future__ import annotations

import pytest
from flask import current_app
from sqlalchemy import select

from app.database import unit_of_work
from app.domain.payment_states import PaymentStatus
from app.extensions import db
from app.models import AuditRecord, Item, Order, Payment
from app.providers.base import CardDisplay, ProviderPayment
from app.services import audit
from app.services.audit import Actor
from app.services.checkout import checkout, orders
from app.services.payments import payments
from app.services.shop import cart

S = PaymentStatus
ACTOR = Actor("test@test.example", "127.0.0.1")


def start(people, items=(("mug", 2),), currency="EUR", mode="hosted") -> tuple[int, int]:
    """Order items as the buyer and open a PSP session; (order id, payment id)."""
    for name, quantity in items:
        cart.set_quantity(people["buyer"], people[name], quantity)
    order_id = orders.place_order(people["buyer"], currency, ACTOR)
    with current_app.test_request_context(base_url=current_app.config["PUBLIC_URL"]):
        return order_id, checkout.start_payment(order_id, people["buyer"], mode, ACTOR).payment_id


def report(status: PaymentStatus | None, amount: int = 4800, *, raw: str | None = None,
           **facts) -> ProviderPayment:
    """A PSP report as the adapter would map it."""
    defaults = {}
    if status in (S.AUTHORIZED, S.CAPTURED):
        defaults["amount_authorized"] = amount
    if status == S.CAPTURED:
        defaults["amount_captured"] = amount
    return ProviderPayment(reference="ps_test", status=status,
                           raw_status=raw or (status.value if status else "mystery"),
                           amount=amount, currency="EUR", **{**defaults, **facts})


def fresh(payment_id: int) -> Payment:
    db.session.expire_all()
    return db.session.get(Payment, payment_id)


def history(payment_id: int) -> list[str]:
    return [c.to_status for c in fresh(payment_id).changes]


def audit_actions(payment_id: int) -> list[str]:
    return list(db.session.execute(select(AuditRecord.action).where(
        AuditRecord.target == f"payment:{payment_id}").order_by(AuditRecord.id)).scalars())


def stock(item_id: int) -> int:
    db.session.expire_all()
    return db.session.get(Item, item_id).stock


# --- forward only -------------------------------------------------------------------------

def test_reports_move_the_payment_forward_and_pay_the_order(people):
    order_id, payment_id = start(people)

    assert payments.apply_report(payment_id, report(S.AUTHORIZED), "t", ACTOR).result == "moved"
    assert db.session.get(Order, order_id).status == "paid"
    outcome = payments.apply_report(payment_id, report(S.CAPTURED, fee_amount=169,
                                                       card=CardDisplay("visa", "4242")),
                                    "t", ACTOR)

    assert outcome == payments.Outcome("moved", S.CAPTURED)
    payment = fresh(payment_id)
    assert (payment.status, payment.amount_captured, payment.psp_fee_amount) == (
        "captured", 4800, 169)
    assert (payment.card_brand, payment.card_last4) == ("visa", "4242")
    assert history(payment_id) == ["processing", "authorized", "captured"]
    assert audit_actions(payment_id).count("payment.status_changed") == 3
    assert audit.verify_chain() == []


def test_same_status_again_is_unchanged(people):
    _, payment_id = start(people)
    payments.apply_report(payment_id, report(S.AUTHORIZED), "t", ACTOR)
    changes = len(history(payment_id))

    outcome = payments.apply_report(payment_id, report(S.AUTHORIZED), "again", ACTOR)

    assert outcome.result == "unchanged"
    assert len(history(payment_id)) == changes


def test_late_authorized_after_captured_is_stale_and_ignored(people):
    order_id, payment_id = start(people)
    payments.apply_report(payment_id, report(S.CAPTURED), "t", ACTOR)
    audits = audit_actions(payment_id)

    outcome = payments.apply_report(payment_id, report(S.AUTHORIZED, amount_captured=0),
                                    "late webhook", ACTOR)

    assert outcome.result == "stale" and outcome.status == S.CAPTURED
    payment = fresh(payment_id)
    assert payment.status == "captured" and payment.needs_review is False
    assert payment.amount_captured == 4800  # the stale report did not shrink it
    assert history(payment_id) == ["processing", "captured"]
    assert audit_actions(payment_id) == audits


@pytest.mark.parametrize("late", [S.PROCESSING, S.DECLINED, S.REQUIRES_ACTION])
def test_every_earlier_status_after_authorized_is_stale(people, late):
    _, payment_id = start(people)
    payments.apply_report(payment_id, report(S.AUTHORIZED), "t", ACTOR)

    assert payments.apply_report(payment_id, report(late), "late", ACTOR).result == "stale"
    assert fresh(payment_id).status == "authorized"


def test_forbidden_report_needs_review_and_changes_nothing(people):
    order_id, payment_id = start(people)
    payments.apply_report(payment_id, report(S.CAPTURED), "t", ACTOR)
    mug_stock = stock(people["mug"])

    outcome = payments.apply_report(payment_id, report(S.EXPIRED), "psp says expired", ACTOR)

    assert outcome.result == "needs_review" and outcome.status == S.CAPTURED
    payment = fresh(payment_id)
    assert payment.status == "captured" and payment.needs_review is True
    assert "expired" in payment.review_reason and "captured" in payment.review_reason
    assert history(payment_id) == ["processing", "captured"]
    assert audit_actions(payment_id)[-1] == "payment.needs_review"
    assert db.session.get(Order, order_id).status == "paid"
    assert stock(people["mug"]) == mug_stock


def test_unknown_psp_status_needs_review_never_success(people):
    order_id, payment_id = start(people)

    outcome = payments.apply_report(payment_id, report(None, raw="succeeded"), "t", ACTOR)

    assert outcome.result == "needs_review" and outcome.status == S.PROCESSING
    payment = fresh(payment_id)
    assert payment.status == "processing" and payment.needs_review is True
    assert "succeeded" in payment.review_reason
    assert audit_actions(payment_id)[-1] == "payment.needs_review"
    assert db.session.get(Order, order_id).status == "awaiting_payment"


def test_amounts_never_shrink(people):
    _, payment_id = start(people)
    payments.apply_report(payment_id, report(S.CAPTURED, amount_refunded=1000), "t", ACTOR)

    payments.apply_report(payment_id, report(S.CAPTURED, amount_captured=10,
                                             amount_authorized=10), "odd", ACTOR)
    payments.apply_report(payment_id, report(S.AUTHORIZED), "late", ACTOR)

    payment = fresh(payment_id)
    # The refunded amount is not copied from a payment report: services.refunds owns it,
    # together with its ledger posting (a refund unknown to us is a case for review).
    assert (payment.amount_authorized, payment.amount_captured, payment.amount_refunded) == (
        4800, 4800, 0)


def test_a_second_decline_records_the_newer_reason(people):
    _, payment_id = start(people)
    payments.apply_report(payment_id, report(S.DECLINED, decline_code="insufficient_funds",
                                             failure_message="no funds"), "t", ACTOR)

    outcome = payments.apply_report(payment_id, report(S.DECLINED, decline_code="expired_card",
                                                       failure_message="expired"), "t", ACTOR)

    assert outcome.result == "moved"
    payment = fresh(payment_id)
    assert (payment.decline_code, payment.failure_message) == ("expired_card", "expired")
    assert history(payment_id) == ["processing", "declined"]


def test_status_change_history_and_audit_commit_together(people, monkeypatch):
    _, payment_id = start(people)
    before = len(history(payment_id))

    def broken_audit(*args, **kwargs):
        raise RuntimeError("audit store failed")

    monkeypatch.setattr(payments.audit, "record", broken_audit)
    with pytest.raises(RuntimeError):
        payments.apply_report(payment_id, report(S.AUTHORIZED), "t", ACTOR)

    payment = fresh(payment_id)
    assert payment.status == "processing" and payment.amount_authorized == 0
    assert len(history(payment_id)) == before
    assert db.session.get(Order, payment.order_id).status == "awaiting_payment"


def test_every_change_has_one_history_row_and_one_audit_record(people):
    _, payment_id = start(people)
    for status in (S.DECLINED, S.REQUIRES_ACTION, S.AUTHORIZED, S.CAPTURED):
        payments.apply_report(payment_id, report(status), "t", ACTOR)

    rows = fresh(payment_id).changes
    audits = db.session.execute(select(AuditRecord).where(
        AuditRecord.target == f"payment:{payment_id}",
        AuditRecord.action == "payment.status_changed")).scalars().all()
    assert [(r.from_status, r.to_status) for r in rows] == [
        ("initiated", "processing"), ("processing", "declined"),
        ("declined", "requires_action"), ("requires_action", "authorized"),
        ("authorized", "captured")]
    assert len(audits) == len(rows)


# --- the order follows its latest payment -------------------------------------------------

@pytest.mark.parametrize("ending", [S.FAILED, S.EXPIRED, S.CANCELLED])
def test_ending_the_latest_payment_cancels_the_order_and_releases_stock_once(people, ending):
    order_id, payment_id = start(people, items=(("mug", 2), ("candle", 3)))
    assert (stock(people["mug"]), stock(people["candle"])) == (8, 7)

    first = payments.apply_report(payment_id, report(ending), "t", ACTOR)
    second = payments.apply_report(payment_id, report(ending), "again", ACTOR)

    assert first.result == "moved" and second.result == "unchanged"
    order = db.session.get(Order, order_id)
    assert order.status == "cancelled" and order.stock_released is True
    assert (stock(people["mug"]), stock(people["candle"])) == (10, 10)
    assert history(payment_id) == ["processing", ending.value]


def test_release_stock_runs_once_even_when_called_again(people):
    order_id, payment_id = start(people)
    payments.apply_report(payment_id, report(S.EXPIRED), "t", ACTOR)

    with unit_of_work():
        payments.release_stock(db.session.get(Order, order_id))

    assert stock(people["mug"]) == 10


def test_ending_a_replaced_payment_leaves_the_order_alone(people):
    order_id, old_id = start(people)
    new_id = checkout._new_payment(order_id, "embedded", ACTOR)  # the buyer chose another way

    outcome = payments.apply_report(old_id, report(S.EXPIRED), "old session expired", ACTOR)

    assert outcome.result == "moved" and fresh(old_id).status == "expired"
    order = db.session.get(Order, order_id)
    assert order.current_payment.id == new_id
    assert order.status == "awaiting_payment" and order.stock_released is False
    assert stock(people["mug"]) == 8


def test_declined_keeps_the_order_open(people):
    order_id, payment_id = start(people)

    payments.apply_report(payment_id, report(S.DECLINED, decline_code="generic_decline"), "t",
                          ACTOR)

    assert db.session.get(Order, order_id).status == "awaiting_payment"
    assert stock(people["mug"]) == 8


def test_authorized_report_queues_one_capture_after_commit(people, app):
    from app.extensions import queues

    _, payment_id = start(people)
    queues.queue.empty()

    payments.apply_report(payment_id, report(S.AUTHORIZED), "t", ACTOR)
    payments.apply_report(payment_id, report(S.AUTHORIZED), "dup", ACTOR)

    assert queues.queue.get_job_ids() == [f"capture-{payment_id}"]

