"""Webhook inbox service: store once, process once, survive Redis being down."""
from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import redis
import requests
from flask import current_app
from sqlalchemy import select

from app.clock import now
from app.extensions import db, queues
from app.jobs.webhooks import sweep_inbox
from app.models import Payment, WebhookEvent
from app.providers.base import EventKind
from app.providers.sandbox.webhooks import HEADER, sign
from app.services import webhooks
from app.services.audit import Actor
from app.services.checkout import checkout, orders
from app.services.payments.actions import action_key
from app.services.shop import cart
from tests.flows import buyer_pays, psp_call, run_jobs

ACTOR = Actor("buyer@test.example", "127.0.0.1")


def started_payment(people) -> Payment:
    """A PROCESSING payment with a live sandbox session."""
    cart.set_quantity(people["buyer"], people["mug"], 1)
    order_id = orders.place_order(people["buyer"], "EUR", ACTOR)
    with current_app.test_request_context(base_url=current_app.config["PUBLIC_URL"]):
        payment_id = checkout.start_payment(order_id, people["buyer"], "hosted", ACTOR).payment_id
    return db.session.get(Payment, payment_id)


def psp_events(psp_url: str, session_id: str) -> list[dict]:
    """The sandbox's events about one session, oldest first."""
    data = psp_call(psp_url, "GET", "/v1/events?limit=100").json()["data"]
    return [e for e in reversed(data) if e["data"]["object"]["id"] == session_id]


def signed(event: dict) -> tuple[bytes, dict]:
    raw = json.dumps(event).encode()
    secret = current_app.config["SANDBOX_WEBHOOK_SECRET"]
    return raw, {HEADER: sign(secret, raw, int(time.time())),
                 "Content-Type": "application/json"}


def post(client, event: dict):
    raw, headers = signed(event)
    return client.post("/webhooks/sandbox", data=raw, headers=headers)


def inbox() -> list[WebhookEvent]:
    db.session.commit()  # end the read snapshot: other threads wrote
    return db.session.scalars(select(WebhookEvent).order_by(WebhookEvent.id)).all()


def paid_event(people, stack) -> tuple[Payment, dict]:
    payment = started_payment(people)
    assert buyer_pays(stack["psp_url"], payment.psp_reference).status_code == 200
    (event,) = psp_events(stack["psp_url"], payment.psp_reference)
    assert event["type"] == "payment_session.authorized"
    return payment, event


def changes(payment_id: int) -> list[str]:
    db.session.commit()  # end the read snapshot: other threads wrote
    return [c.to_status for c in db.session.get(Payment, payment_id).changes]


def test_receive_stores_the_event_and_queues_its_processing(client, people, stack):
    payment, event = paid_event(people, stack)

    response = post(client, event)

    assert response.status_code == 200 and response.get_json() == {"received": True}
    (row,) = inbox()
    assert (row.event_id, row.event_type, row.object_id, row.status) == (
        event["id"], "payment_session.authorized", payment.psp_reference, "received")
    assert queues.queue.get_job_ids() == [f"inbox-{row.id}"]

    run_jobs()

    (row,) = inbox()
    assert row.status == "processed" and row.attempts == 1
    assert changes(payment.id)[-2:] == ["authorized", "captured"]  # auto-capture followed


def test_bad_signature_is_refused_and_stores_nothing(client, people, stack):
    _, event = paid_event(people, stack)
    raw, headers = signed(event)

    response = client.post("/webhooks/sandbox", data=raw.replace(b"authorized", b"captured"),
                           headers=headers)

    assert response.status_code == 400
    assert inbox() == [] and queues.queue.get_job_ids() == []


@pytest.mark.parametrize("copies", [2, 5])
def test_duplicates_store_once_and_process_once(client, people, stack, copies):
    payment, event = paid_event(people, stack)

    answers = [post(client, event) for _ in range(copies)]

    assert [a.status_code for a in answers] == [200] * copies
    assert [a.get_json().get("duplicate", False) for a in answers] == [False] + [True] * (
        copies - 1)
    assert len(inbox()) == 1
    run_jobs()
    assert changes(payment.id) == ["processing", "authorized", "captured"]
    assert psp_call(stack["psp_url"], "GET", "/v1/_stats").json()["executions"][
        action_key(payment, "capture")] == 1


def test_concurrent_duplicates_store_once(people, stack):
    payment, event = paid_event(people, stack)
    raw, headers = signed(event)
    url = f"{stack['url']}/webhooks/sandbox"

    with ThreadPoolExecutor(max_workers=5) as pool:
        answers = list(pool.map(lambda _: requests.post(url, data=raw, headers=headers,
                                                        timeout=30), range(5)))

    assert [a.status_code for a in answers] == [200] * 5
    assert sum(1 for a in answers if not a.json().get("duplicate")) == 1
    (row,) = inbox()
    assert queues.queue.get_job_ids() == [f"inbox-{row.id}"]
    run_jobs()
    assert changes(payment.id) == ["processing", "authorized", "captured"]


def test_event_for_an_unknown_session_is_ignored(client, people, stack):
    _, event = paid_event(people, stack)
    stranger = json.loads(json.dumps(event))
    stranger["id"] = "evt_stranger_" + event["id"]
    stranger["data"]["object"]["id"] = "ps_not_ours"

    assert post(client, stranger).status_code == 200
    run_jobs()

    (row,) = inbox()
    assert row.status == "ignored" and "ps_not_ours" in row.outcome


def test_processing_twice_changes_nothing_the_second_time(client, people, stack):
    payment, event = paid_event(people, stack)
    post(client, event)
    (row,) = inbox()

    first = webhooks.process(row.id)
    history = changes(payment.id)
    second = webhooks.process(row.id)

    assert first.result == "moved" and second is None
    assert changes(payment.id) == history
    assert inbox()[0].attempts == 1


def test_redis_down_while_receiving_then_the_sweeper_recovers(client, people, stack,
                                                              monkeypatch):
    payment, event = paid_event(people, stack)

    def redis_down(*args, **kwargs):
        raise redis.exceptions.ConnectionError("Connection refused")

    monkeypatch.setattr(queues, "enqueue", redis_down)
    response = post(client, event)
    monkeypatch.undo()

    assert response.status_code == 200
    (row,) = inbox()
    assert row.status == "received" and queues.queue.get_job_ids() == []
    assert sweep_inbox() == 0  # too fresh: it may still be on its way to a worker

    row.received_at = now() - timedelta(seconds=61)
    db.session.commit()
    assert sweep_inbox() == 1
    run_jobs()

    (row,) = inbox()
    assert row.status == "processed"
    assert db.session.get(Payment, payment.id).status == "captured"
    assert sweep_inbox() == 0


def test_every_event_kind_has_exactly_one_plain_handler():
    # One table decides who processes what; a new kind without a handler fails here, not in
    # a worker at 3 a.m.
    assert set(webhooks.HANDLERS) == set(EventKind)
    assert all(callable(handler) for handler in webhooks.HANDLERS.values())
