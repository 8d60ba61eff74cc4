"""The webhook worker's hottest path, a whole capture reported by the PSP, stays one write
transaction of a bounded number of statements (docs/performance.md, "Worker throughput"), and
still does everything the rules ask: transition and history, audit, escrow holds, a balanced
capture posting, the order paid, its e-mails in the outbox, the inbox row settled."""
from __future__ import annotations

import json

from sqlalchemy import event as sa_event
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.domain.payment_states import PaymentStatus
from app.extensions import db
from app.models import (
    AuditRecord,
    EscrowHold,
    LedgerEntry,
    Notification,
    Order,
    PaymentStatusChange,
    WebhookEvent,
)
from app.providers.base import CardDisplay, EventKind, ProviderEvent, ProviderPayment
from app.services import inbox
from app.services.audit import Actor
from app.services.payments import payments
from tests.services.test_svc_webhooks import started_payment

WORKER = Actor("psp:sandbox", "worker")
# Counted (SQLite, BEGIN included): 21 since issue 18's worker cuts, 30 before them (the inbox
# row read under lock, a second payment UPDATE, the order's payments read for the receipt,
# the e-mails' users and fee rules, the digital delivery's reads on an order with none).
# A few spare for rules to come.
STATEMENT_BUDGET = 24


def _captured(payment) -> ProviderPayment:
    amount = payment.amount
    return ProviderPayment(payment.psp_reference, PaymentStatus.CAPTURED, "captured", amount,
                           "EUR", amount_authorized=amount, amount_captured=amount,
                           fee_amount=95, card=CardDisplay("visa", "4242"))


def _stored_event(payment) -> int:
    row = WebhookEvent(provider="sandbox", event_id="evt_capture_path",
                       event_type="payment_session.captured", object_id=payment.psp_reference,
                       payload=json.dumps({"id": "evt_capture_path"}))
    db.session.add(row)
    db.session.commit()
    return row.id


def _status_records(payment_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(AuditRecord).where(
        AuditRecord.action == "payment.status_changed",
        AuditRecord.target == f"payment:{payment_id}"))


def test_a_whole_capture_is_one_transaction_of_bounded_statements(people):
    payment = started_payment(people)
    inbox_id = _stored_event(payment)
    report, payment_id = _captured(payment), payment.id
    audited = _status_records(payment_id)
    statements: list[str] = []

    commits: list[int] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    def committed(session):
        commits.append(1)

    db.session.commit()
    sa_event.listen(db.engine, "before_cursor_execute", count)
    sa_event.listen(Session, "after_commit", committed)
    try:
        outcome = payments.apply_report(payment_id, report, "webhook captured", WORKER,
                                        inbox_id=inbox_id)
    finally:
        sa_event.remove(db.engine, "before_cursor_execute", count)
        sa_event.remove(Session, "after_commit", committed)

    assert outcome.result == "moved" and outcome.status == PaymentStatus.CAPTURED
    assert len(statements) <= STATEMENT_BUDGET, "\n".join(statements)
    assert len(commits) == 1  # one write transaction (PostgreSQL sends no BEGIN statement)
    # No digital line: no delivery rows looked up, no fulfilment check.
    assert not any("digital_deliveries" in s or "shipments" in s for s in statements)

    db.session.expire_all()
    assert [c.to_status for c in db.session.scalars(select(PaymentStatusChange).where(
        PaymentStatusChange.payment_id == payment.id))][-1] == "captured"
    assert db.session.get(Order, payment.order_id).status == "paid"
    holds = list(db.session.scalars(select(EscrowHold).where(
        EscrowHold.order_id == payment.order_id)))
    assert sum(h.gross_amount for h in holds) == payment.amount
    assert db.session.scalar(select(func.sum(LedgerEntry.amount))) == 0  # balanced
    assert _status_records(payment_id) == audited + 1
    assert sorted(n.kind for n in db.session.scalars(select(Notification))) == [
        "new_sale", "order_receipt"]
    row = db.session.get(WebhookEvent, inbox_id)
    assert (row.status, row.attempts, row.outcome) == ("processed", 1, "moved: captured")


def test_settling_the_inbox_row_refuses_a_second_run_and_refreshes_a_loaded_row(people):
    payment = started_payment(people)
    inbox_id = _stored_event(payment)
    loaded = db.session.get(WebhookEvent, inbox_id)
    assert loaded.status == "received"

    with db.session.begin_nested():
        inbox.mark(inbox_id, inbox.InboxStatus.PROCESSED, "moved: captured")
    assert (loaded.status, loaded.attempts) == ("processed", 1)  # not the stale copy
    db.session.commit()

    try:
        inbox.mark(inbox_id, inbox.InboxStatus.PROCESSED, "moved: captured")
    except inbox.AlreadySettled:
        pass
    else:
        raise AssertionError("a settled row was settled again")
    db.session.rollback()
    db.session.expire_all()
    assert db.session.get(WebhookEvent, inbox_id).attempts == 1


def test_an_event_about_an_unknown_payment_is_ignored_by_reference(people):
    payment = started_payment(people)
    row = WebhookEvent(provider="sandbox", event_id="evt_unknown",
                       event_type="payment_session.captured", object_id="ps_nobody",
                       payload="{}")
    db.session.add(row)
    db.session.commit()
    event = ProviderEvent("evt_unknown", "payment_session.captured", EventKind.PAYMENT,
                          "ps_nobody", {})

    assert payments.apply_payment_event(row.id, "sandbox", event, WORKER) is None
    db.session.expire_all()
    assert db.session.get(WebhookEvent, row.id).status == "ignored"
    assert db.session.get(type(payment), payment.id).status == payment.status
