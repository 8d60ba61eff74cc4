"""The PSP call log inside `with_the_answer` (checkout opening a session): the attempts ride in
the transaction that records the PSP's answer; should it roll back, or none come, they are
written on their own when the block ends; a log that cannot be written never fails the answer."""
from __future__ import annotations

import logging

import pytest
from sqlalchemy import event, select, text

from app.database import unit_of_work
from app.extensions import db
from app.models import AuditRecord
from app.services import audit, psp_calls
from app.services.audit import Actor
from tests.services.test_svc_psp_calls import Scripted, calls, guarded

ACTOR = Actor("system:test", "worker")


class Commits:
    """Counts the engine's commits while active."""

    def __init__(self):
        self.count = 0

    def _seen(self, conn):
        self.count += 1

    def __enter__(self):
        event.listen(db.engine, "commit", self._seen)
        return self

    def __exit__(self, *exc):
        event.remove(db.engine, "commit", self._seen)


def test_the_attempt_commits_in_the_answers_transaction(app):
    db.session.commit()
    with Commits() as commits, psp_calls.with_the_answer():
        guarded(Scripted("ok")).capture("ps_a1", 100, "hf_a1:capture")
        db.session.rollback()  # a read snapshot ending must not write it on its own
        assert db.session.info[psp_calls.PENDING]
        with unit_of_work():
            audit.record(ACTOR, "test.answer", "thing:a1")
    assert commits.count == 1  # before: the log's own transaction, then the answer's
    assert [(r.operation, r.idempotency_key) for r in calls()] == [("capture", "hf_a1:capture")]


def test_when_the_answers_transaction_rolls_back_the_attempt_is_written_once(app):
    db.session.commit()
    with psp_calls.with_the_answer():
        guarded(Scripted("ok")).capture("ps_a2", 100, "hf_a2:capture")
        with pytest.raises(RuntimeError), unit_of_work():
            audit.record(ACTOR, "test.answer", "thing:a2")
            db.session.flush()
            raise RuntimeError("the answer could not be recorded")
        assert calls() == []  # not yet: the block's end writes it
    assert [r.idempotency_key for r in calls()] == ["hf_a2:capture"]


def test_without_a_write_transaction_the_block_end_writes_it_and_nesting_waits(app):
    db.session.commit()
    with psp_calls.with_the_answer():
        with psp_calls.with_the_answer():  # a fail-over opens a second block inside
            guarded(Scripted("ok")).capture("ps_a3", 100, "hf_a3:capture")
        db.session.commit()
        assert calls() == []
    assert [r.idempotency_key for r in calls()] == ["hf_a3:capture"]


def test_a_log_that_cannot_be_written_never_fails_the_answer(app, caplog):
    db.session.commit()
    db.session.execute(text("ALTER TABLE psp_calls RENAME TO psp_calls_away"))
    db.session.commit()
    try:
        with caplog.at_level(logging.WARNING, logger="app.services.psp_calls"):
            with psp_calls.with_the_answer():
                guarded(Scripted("ok")).capture("ps_a4", 100, "hf_a4:capture")
                with unit_of_work():
                    audit.record(ACTOR, "test.answer", "thing:a4")
    finally:
        db.session.rollback()
        db.session.execute(text("ALTER TABLE psp_calls_away RENAME TO psp_calls"))
        db.session.commit()
    assert db.session.scalar(select(AuditRecord.id).where(AuditRecord.target == "thing:a4"))
    assert "could not insert 1 attempt(s) with the answer" in caplog.text
    assert "could not record 1 attempt(s)" in caplog.text  # tried again on its own, logged
    assert calls() == []
