"""A contended database is retried, not failed: SQLite's "database is locked" (another writer
outlasting the busy timeout) and PostgreSQL's serialization failures (40001) and deadlocks
(40P01), each provoked for real. Past the bounded retries the caller gets a clear conflict:
Contended in a service, 409 with a readable message over HTTP."""
from __future__ import annotations

import logging
import sqlite3
import threading
import time

import pytest
from flask import current_app
from sqlalchemy import select, text

import app.database as database
from app.database import Contended, is_postgresql, retry_transient, unit_of_work
from app.extensions import db
from app.models import AuditRecord, WebhookEvent
from app.services import audit
from app.services.audit import Actor
from tests.services.test_svc_webhooks import paid_event, signed

ACTOR = Actor("support@test.example", "127.0.0.1")



@pytest.fixture
def sqlite_file(app):
    """The suite's SQLite file, with a 50 ms busy timeout for new connections; skipped on
    PostgreSQL."""
    if is_postgresql():
        pytest.skip("SQLite's write lock")
    before = database.SQLITE_BUSY_MS
    database.SQLITE_BUSY_MS = 50
    db.session.remove()
    db.engine.dispose()
    yield db.engine.url.database
    database.SQLITE_BUSY_MS = before
    db.session.remove()
    db.engine.dispose()


def hold_write_lock(path: str, seconds: float) -> threading.Event:
    """Another process's writer: BEGIN IMMEDIATE, hold the lock, then commit. Returns an event
    set once the lock is held."""
    held = threading.Event()

    def writer():
        conn = sqlite3.connect(path, isolation_level=None, timeout=5)
        conn.execute("BEGIN IMMEDIATE")
        held.set()
        time.sleep(seconds)
        conn.execute("COMMIT")
        conn.close()

    threading.Thread(target=writer, daemon=True).start()
    assert held.wait(5)
    return held


def audit_count() -> int:
    db.session.rollback()
    return len(db.session.scalars(select(AuditRecord.id)).all())


def test_database_is_locked_is_retried_until_the_writer_is_done(app, sqlite_file, caplog):
    hold_write_lock(sqlite_file, 0.3)

    with caplog.at_level(logging.INFO, logger="app.database"):
        audit.record_access(ACTOR, "payment.viewed", "payment:1")  # retried inside

    assert audit_count() == 1
    assert "OperationalError; attempt 2 of" in caplog.text


def test_a_lock_that_outlasts_every_retry_is_a_clear_conflict(app, sqlite_file):
    hold_write_lock(sqlite_file, 3.0)

    with pytest.raises(Contended):
        audit.record_access(ACTOR, "payment.viewed", "payment:1")
    time.sleep(3.1)
    assert audit_count() == 0  # nothing half-written


def test_a_webhook_during_a_long_lock_answers_409_and_stores_nothing(client, people, stack,
                                                                     sqlite_file):
    """The PSP is told to come back (it retries non-2xx answers); nothing is stored twice."""
    _, event = paid_event(people, stack)
    raw, headers = signed(event)
    hold_write_lock(sqlite_file, 3.0)

    response = client.post("/webhooks/sandbox", data=raw, headers=headers)

    assert response.status_code == 409
    assert "Someone else changed this at the same moment" in \
        response.get_json()["error"]["message"]
    time.sleep(3.1)
    assert client.post("/webhooks/sandbox", data=raw, headers=headers).status_code == 200
    db.session.rollback()
    assert len(db.session.scalars(select(WebhookEvent)).all()) == 1


# --- PostgreSQL ---------------------------------------------------------------------------

@pytest.fixture
def postgresql(app):
    if not is_postgresql():
        pytest.skip("needs PostgreSQL (DATABASE_URL)")


def inbox_row() -> int:
    with unit_of_work():
        row = WebhookEvent(provider="sandbox", event_id=f"evt_{time.monotonic_ns()}",
                           event_type="test.event", payload="{}")
        db.session.add(row)
        db.session.flush()
        return row.id


def in_thread(app, work) -> threading.Thread:
    """Run work() in another thread with its own app context (its own connection)."""
    def run():
        with app.app_context():
            try:
                work()
            finally:
                db.session.remove()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_a_serialization_failure_is_retried(app, postgresql):
    row_id = inbox_row()
    calls = []
    snapshot_taken, other_committed = threading.Event(), threading.Event()

    def other_writer():
        snapshot_taken.wait(10)
        with unit_of_work():
            db.session.execute(text("UPDATE webhook_events SET attempts = attempts + 10 "
                                    "WHERE id = :id"), {"id": row_id})
        other_committed.set()

    @retry_transient
    def bump():
        calls.append(1)
        with unit_of_work():
            db.session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
            db.session.execute(text("SELECT attempts FROM webhook_events WHERE id = :id"),
                               {"id": row_id})
            if len(calls) == 1:  # the first attempt's snapshot goes stale under it
                snapshot_taken.set()
                assert other_committed.wait(10)
            db.session.execute(text("UPDATE webhook_events SET attempts = attempts + 1 "
                                    "WHERE id = :id"), {"id": row_id})

    thread = in_thread(current_app._get_current_object(), other_writer)
    bump()
    thread.join(10)

    assert len(calls) == 2  # 40001 on the first, success on the second
    db.session.rollback()
    assert db.session.get(WebhookEvent, row_id).attempts == 11


def test_a_deadlock_is_retried(app, postgresql):
    first, second = inbox_row(), inbox_row()
    calls = []
    mine_locked, theirs_locked = threading.Event(), threading.Event()

    def other_writer():
        with unit_of_work():
            # This side waits patiently, so PostgreSQL picks the retried side as the victim.
            db.session.execute(text("SET LOCAL deadlock_timeout = '20s'"))
            assert mine_locked.wait(10)
            db.session.execute(text("UPDATE webhook_events SET attempts = attempts + 10 "
                                    "WHERE id = :id"), {"id": second})
            theirs_locked.set()
            db.session.execute(text("UPDATE webhook_events SET attempts = attempts + 10 "
                                    "WHERE id = :id"), {"id": first})

    @retry_transient
    def lock_both():
        calls.append(1)
        with unit_of_work():
            db.session.execute(text("SET LOCAL deadlock_timeout = '100ms'"))
            db.session.execute(text("UPDATE webhook_events SET attempts = attempts + 1 "
                                    "WHERE id = :id"), {"id": first})
            if len(calls) == 1:
                mine_locked.set()
                assert theirs_locked.wait(10)
            db.session.execute(text("UPDATE webhook_events SET attempts = attempts + 1 "
                                    "WHERE id = :id"), {"id": second})

    thread = in_thread(current_app._get_current_object(), other_writer)
    lock_both()
    thread.join(30)

    assert len(calls) == 2
    db.session.rollback()
    assert [db.session.get(WebhookEvent, i).attempts for i in (first, second)] == [11, 11]
