"""Inbox jobs: process one event (reruns change nothing, failures are recorded), sweep strays."""
from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from flask import current_app
from sqlalchemy import select

from app.clock import now
from app.extensions import db, queues
from app.jobs.webhooks import process_event, sweep_inbox
from app.models import Payment, PaymentStatusChange, WebhookEvent
from app.providers.sandbox.webhooks import HEADER, sign
from app.services.audit import Actor
from app.services.checkout import checkout, orders
from app.services.payments import payments
from app.services.shop import cart
from tests.flows import buyer_pays, psp_call, run_jobs

ACTOR = Actor("buyer@test.example", "127.0.0.1")


def stored_event(client, people, stack) -> tuple[int, WebhookEvent]:
    """A paid session's authorized event, received and stored but not processed yet."""
    cart.set_quantity(people["buyer"], people["mug"], 1)
    order_id = orders.place_order(people["buyer"], "EUR", ACTOR)
    with current_app.test_request_context(base_url=current_app.config["PUBLIC_URL"]):
        payment_id = checkout.start_payment(order_id, people["buyer"], "hosted", ACTOR).payment_id
    reference = db.session.get(Payment, payment_id).psp_reference
    assert buyer_pays(stack["psp_url"], reference).status_code == 200
    data = psp_call(stack["psp_url"], "GET", "/v1/events?limit=20").json()["data"]
    event = next(e for e in data if e["data"]["object"]["id"] == reference)
    raw = json.dumps(event).encode()
    header = sign(current_app.config["SANDBOX_WEBHOOK_SECRET"], raw, int(time.time()))
    assert client.post("/webhooks/sandbox", data=raw, headers={HEADER: header}).status_code == 200
    queues.queue.empty()
    row = db.session.scalars(select(WebhookEvent)).one()
    return payment_id, row


def history_rows(payment_id: int) -> int:
    return len(db.session.scalars(select(PaymentStatusChange).where(
        PaymentStatusChange.payment_id == payment_id)).all())


def test_process_event_rerun_after_success_changes_nothing(client, people, stack):
    payment_id, row = stored_event(client, people, stack)

    assert process_event(row.id) == "moved"
    rows = history_rows(payment_id)
    assert process_event(row.id) == "skipped"

    db.session.expire_all()
    assert history_rows(payment_id) == rows
    assert db.session.get(WebhookEvent, row.id).attempts == 1
    assert db.session.get(Payment, payment_id).status == "authorized"
    assert queues.queue.get_job_ids() == [f"capture-{payment_id}"]  # queued once


def test_failed_processing_is_recorded_then_retried(client, people, stack, monkeypatch):
    payment_id, row = stored_event(client, people, stack)

    def crash(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(payments, "apply_report", crash)
    with pytest.raises(RuntimeError):
        process_event(row.id)
    monkeypatch.undo()

    db.session.expire_all()
    failed = db.session.get(WebhookEvent, row.id)
    assert failed.status == "failed" and "database went away" in failed.last_error
    assert db.session.get(Payment, payment_id).status == "processing"

    assert process_event(row.id) == "moved"  # RQ's retry
    db.session.expire_all()
    assert db.session.get(WebhookEvent, row.id).status == "processed"


def test_sweep_inbox_enqueues_only_old_unprocessed_rows(client, people, stack):
    payment_id, row = stored_event(client, people, stack)
    assert sweep_inbox() == 0

    row.received_at = now() - timedelta(seconds=120)
    db.session.commit()
    assert sweep_inbox() == 1
    assert queues.queue.get_job_ids()[0] == f"inbox-{row.id}"
    assert sweep_inbox() == 1  # a backed-up queue: the next sweep enqueues it again
    run_jobs()

    db.session.expire_all()
    processed = db.session.get(WebhookEvent, row.id)
    assert processed.status == "processed" and processed.attempts == 1
    assert [c.to_status for c in db.session.get(Payment, payment_id).changes] == [
        "processing", "authorized", "captured"]
    assert sweep_inbox() == 0
