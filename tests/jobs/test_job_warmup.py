"""The worker compiles a capture's statements before it forks (app/jobs/warmup.py): the real
capture path runs on rows made for it, in a transaction rolled back, so nothing of it is left:
no rows, no audit checkpoint, no commit counted for the fault tests; and a capture applied
afterwards finds its statements compiled."""
from __future__ import annotations

import logging

from sqlalchemy import func, select

from app import pause_points
from app.extensions import db
from app.jobs import warmup
from app.models import (
    AuditRecord,
    EscrowHold,
    LedgerTransaction,
    Notification,
    Order,
    Payment,
    User,
    WebhookEvent,
)
from app.services import audit
from app.services.payments import payments
from tests.services.payments.test_svc_capture_path import WORKER, _captured, _stored_event
from tests.services.test_svc_webhooks import started_payment

TABLES = (User, Order, Payment, WebhookEvent, AuditRecord, LedgerTransaction, EscrowHold,
          Notification)


def _counts() -> dict[str, int]:
    db.session.rollback()
    return {model.__tablename__: db.session.scalar(select(func.count()).select_from(model))
            for model in TABLES}


def test_the_warm_up_leaves_nothing_behind(app, people, tmp_path, monkeypatch):
    started_payment(people)  # a chain and a checkpoint to keep intact
    db.session.commit()
    before, commits = _counts(), pause_points._commits
    monkeypatch.setenv("HOLDFAST_PAUSE_AT", "never:reached")  # count commits, pause at none
    monkeypatch.setenv("HOLDFAST_PAUSE_DIR", str(tmp_path))

    queued = _jobs()
    assert warmup.warm_capture(app) is True

    assert _counts() == before
    assert pause_points._commits == commits
    assert audit.verify_chain() == []  # no checkpoint anchored on a head the rollback undid
    # Nor a job: one naming the rolled-back payment's id would later run against the real
    # payment that takes that id (the browser tests' capture-1 ran early and did nothing).
    assert _jobs() == queued


def _jobs() -> set[str]:
    """Every job id in Redis: queued, scheduled, or saved as a job hash."""
    from app.extensions import queues

    return {key.decode() for key in queues.connection.keys("rq:job:*")}


def test_a_capture_after_the_warm_up_compiles_nothing_new(app, people):
    payment = started_payment(people)
    inbox_id = _stored_event(payment)
    report, payment_id = _captured(payment), payment.id
    db.session.commit()
    warmup.warm_capture(app)
    cache = db.engine._compiled_cache
    compiled_before = len(cache)

    outcome = payments.apply_report(payment_id, report, "webhook captured", WORKER,
                                    inbox_id=inbox_id)

    assert outcome.result == "moved"
    assert len(cache) == compiled_before  # every statement of the capture was already there
    assert db.session.get(Payment, payment_id).status == "captured"


def test_a_warm_up_that_fails_is_logged_and_the_worker_still_starts(app, people, monkeypatch,
                                                                     caplog):
    def broken(session):
        session.add(User(email="half@holdfast.invalid", display_name="x", role="buyer",
                         password_hash="!"))
        session.flush()
        raise RuntimeError("the warm-up breaks halfway")

    monkeypatch.setattr(warmup, "_capture_once", broken)
    before = _counts()
    with caplog.at_level(logging.WARNING, logger="app.jobs.warmup"):
        assert warmup.warm_capture(app) is False
    assert "could not warm the statement cache" in caplog.text
    assert _counts() == before
