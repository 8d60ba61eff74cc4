"""The batched hand-off of received webhooks to the queue (app/handoff.py, INBOX_HANDOFF):
the PSP's answer never waits for Redis, a burst goes to Redis in one round trip, a queue that is
down loses nothing (the sweeper), and a forked process starts clean."""
from __future__ import annotations

import json
import os
import threading
import time
from datetime import timedelta

import pytest
import redis
from flask import current_app
from sqlalchemy import select

from app.clock import now
from app.extensions import db, queues
from app.jobs.webhooks import sweep_inbox
from app.models import WebhookEvent
from app.providers.sandbox.webhooks import HEADER, sign
from app.services import inbox
from config import ConfigError, load_config
from tests.flows import run_jobs


@pytest.fixture
def batched(app, monkeypatch):
    monkeypatch.setitem(app.config, "INBOX_HANDOFF", "batched")
    yield
    assert inbox.flush_hand_off(timeout=10), "the hand-off thread still held ids"
    app.extensions.pop("holdfast_handoff", None)


def post_event(client, number: int):
    """A signed sandbox event about a session we never made (processing ignores it)."""
    raw = json.dumps({"id": f"evt_handoff_{number}", "type": "payment_session.captured",
                      "created": int(time.time()), "data": {"object": {
                          "id": f"ps_handoff_{number}", "object": "payment_session",
                          "status": "captured", "amount": 100, "currency": "eur"}}}).encode()
    secret = current_app.config["SANDBOX_WEBHOOK_SECRET"]
    return client.post("/webhooks/sandbox", data=raw, headers={
        HEADER: sign(secret, raw, int(time.time())), "Content-Type": "application/json"})


def stored_ids() -> list[int]:
    db.session.commit()  # end the read snapshot
    return list(db.session.scalars(select(WebhookEvent.id).order_by(WebhookEvent.id)))


def queued() -> set[str]:
    return set(queues.queue.get_job_ids())


def test_a_burst_is_answered_at_once_and_queued_in_one_round_trip(app, client, batched,
                                                                  monkeypatch):
    """While the thread is busy with the first event, nine more arrive and are answered; they
    go to Redis together, one pipeline for all nine."""
    sent, release = [], threading.Event()
    real = queues.enqueue_many

    def slow_first(func, calls, **kwargs):
        sent.append([args[0] for args, _ in calls])
        if len(sent) == 1:
            release.wait(10)  # Redis is slow to answer the first batch
        return real(func, calls, **kwargs)

    monkeypatch.setattr(queues, "enqueue_many", slow_first)
    assert post_event(client, 0).status_code == 200
    deadline = time.monotonic() + 10
    while not sent and time.monotonic() < deadline:
        time.sleep(0.005)
    answers = [post_event(client, n).status_code for n in range(1, 10)]
    assert answers == [200] * 9  # answered while the queue had not even taken the first
    release.set()
    assert inbox.flush_hand_off(timeout=10)

    ids = stored_ids()
    assert sent == [ids[:1], ids[1:]]
    assert queued() == {f"inbox-{i}" for i in ids}
    run_jobs()
    db.session.expire_all()
    assert {row.status for row in db.session.scalars(select(WebhookEvent))} == {"ignored"}


def test_redis_down_at_hand_off_loses_nothing_and_the_thread_lives_on(app, client, batched,
                                                                      monkeypatch):
    def redis_down(*args, **kwargs):
        raise redis.exceptions.ConnectionError("Connection refused")

    monkeypatch.setattr(queues, "enqueue_many", redis_down)
    assert post_event(client, 1).status_code == 200
    assert inbox.flush_hand_off(timeout=10)
    monkeypatch.undo()
    monkeypatch.setitem(app.config, "INBOX_HANDOFF", "batched")  # undo() restored "inline"
    [lost] = stored_ids()
    assert queued() == set()

    assert post_event(client, 2).status_code == 200  # the same thread queues the next one
    assert inbox.flush_hand_off(timeout=10)
    [_, second] = stored_ids()
    assert queued() == {f"inbox-{second}"}

    row = db.session.get(WebhookEvent, lost)
    row.received_at = now() - timedelta(seconds=61)
    db.session.commit()
    assert sweep_inbox() == 1  # the sweeper queues the one Redis never took
    assert queued() == {f"inbox-{lost}", f"inbox-{second}"}


def test_a_forked_process_starts_with_an_empty_list_and_a_free_lock(app, client, batched,
                                                                    monkeypatch):
    """gunicorn and RQ fork: the child must neither send the parent's ids again nor wait on
    a lock the parent's thread held at the fork."""
    release = threading.Event()
    monkeypatch.setattr(queues, "enqueue_many", lambda *a, **k: release.wait(10))
    assert post_event(client, 1).status_code == 200
    handoff = app.extensions["holdfast_handoff"]
    with handoff._lock:  # held across the fork, as a busy thread might
        handoff._pending.append(999)
        pid = os.fork()
        if pid == 0:  # the child: report by exit code only
            fine = handoff._lock.acquire(timeout=2) and handoff._pending == [] \
                and handoff._thread is None
            os._exit(0 if fine else 1)
        handoff._pending.remove(999)
    _, status = os.waitpid(pid, 0)
    release.set()
    assert os.waitstatus_to_exitcode(status) == 0


def test_the_setting_takes_batched_or_inline_only(monkeypatch):
    monkeypatch.setenv("INBOX_HANDOFF", "later")
    with pytest.raises(ConfigError, match="INBOX_HANDOFF"):
        load_config("test")
    monkeypatch.setenv("INBOX_HANDOFF", "batched")
    assert load_config("test")["INBOX_HANDOFF"] == "batched"
    monkeypatch.delenv("INBOX_HANDOFF")
    assert load_config("test")["INBOX_HANDOFF"] == "inline"
