"""Processing an inbox event is one write transaction, and the inbox row, marked under its lock
in that transaction, keeps it exactly once even when two runs of the event overlap."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from app.extensions import db, queues
from app.models import Payment, PaymentStatusChange, WebhookEvent
from app.providers.sandbox.client import SandboxProvider
from app.services import inbox, webhooks
from tests.services.test_svc_webhooks import inbox as inbox_rows
from tests.services.test_svc_webhooks import paid_event, post


def history(payment_id: int) -> list[str]:
    db.session.commit()
    return list(db.session.scalars(select(PaymentStatusChange.to_status).where(
        PaymentStatusChange.payment_id == payment_id).order_by(PaymentStatusChange.id)))


@pytest.fixture
def stored(client, people, stack) -> tuple[Payment, WebhookEvent]:
    """An authorized payment's event, received and stored, its job not run."""
    payment, event = paid_event(people, stack)
    post(client, event)
    queues.queue.empty()
    (row,) = inbox_rows()
    return payment, row


def test_an_event_is_applied_in_one_write_transaction(stored):
    payment, row = stored
    commits: list[int] = []

    def committed(session):
        commits.append(1)

    db.session.commit()  # the fixture's own reads end here, before counting
    sa_event.listen(Session, "after_commit", committed)
    try:
        outcome = webhooks.process(row.id)
    finally:
        sa_event.remove(Session, "after_commit", committed)

    # The inbox mark, the transition and its records commit together; the row is read
    # without a write transaction of its own (there used to be a separate "claim" commit).
    # (The PSP call log writes the re-fetch on its own connection: services/psp_calls.)
    assert outcome.result == "moved"
    assert len(commits) == 1
    (settled,) = inbox_rows()
    assert (settled.status, settled.attempts) == ("processed", 1)
    assert history(payment.id)[-1] == "authorized"


def test_a_run_that_loses_the_race_rolls_back_whole(stored, monkeypatch):
    """Two workers took the same event (a sweeper's re-enqueue beside the original job): the
    second read the row before the first committed, re-fetched, and reaches its transaction
    only after the first settled the row. It must commit nothing."""
    payment, row = stored
    real_retrieve = SandboxProvider.retrieve
    first: list = []

    def retrieve_while_the_other_run_commits(self, reference):
        if not first:  # the second run, between its read and its transaction: the first
            first.append(None)  # run (which re-fetches for real) goes through meanwhile
            first[0] = webhooks.process(row.id)
        return real_retrieve(self, reference)

    monkeypatch.setattr(SandboxProvider, "retrieve", retrieve_while_the_other_run_commits)

    second = webhooks.process(row.id)

    assert first[0].result == "moved" and second is None
    (settled,) = inbox_rows()
    assert (settled.status, settled.attempts) == ("processed", 1)
    assert settled.outcome == "moved: authorized"  # the first run's, not overwritten
    assert history(payment.id).count("authorized") == 1
    assert queues.queue.get_job_ids() == [f"capture-{payment.id}"]  # its follow-up once


def test_mark_refuses_a_settled_row_and_its_transaction_rolls_back(stored):
    payment, row = stored
    assert webhooks.process(row.id).result == "moved"

    from app.database import unit_of_work
    from app.models.webhooks import InboxStatus

    with pytest.raises(inbox.AlreadySettled):
        with unit_of_work():
            db.session.get(Payment, payment.id).review_reason = "written by a losing run"
            inbox.mark(row.id, InboxStatus.PROCESSED, "again")

    db.session.expire_all()
    assert db.session.get(Payment, payment.id).review_reason is None
    (settled,) = inbox_rows()
    assert (settled.outcome, settled.attempts) == ("moved: authorized", 1)


def test_a_failure_counts_an_attempt_and_the_retry_settles_it(stored, monkeypatch):
    payment, row = stored

    def psp_down(self, reference):
        raise RuntimeError("PSP unreachable")

    monkeypatch.setattr(SandboxProvider, "retrieve", psp_down)
    from app.jobs.webhooks import process_event

    with pytest.raises(RuntimeError):
        process_event(row.id)
    monkeypatch.undo()
    (failed,) = inbox_rows()
    assert (failed.status, failed.attempts) == ("failed", 1)

    assert process_event(row.id) == "moved"
    (settled,) = inbox_rows()
    assert (settled.status, settled.attempts) == ("processed", 2)


def test_a_stale_snapshot_does_not_hide_a_new_event(people, stack):
    """An in-process worker may run a job in a session that still holds an old read snapshot
    (tests' run_jobs, a worker reusing its context): the event stored since must be applied,
    not skipped as if its row did not exist."""
    payment, event = paid_event(people, stack)
    db.session.commit()
    db.session.execute(select(WebhookEvent.id)).all()  # a read snapshot, left open
    assert db.session().in_transaction()

    with db.engine.begin() as other:  # stored and committed meanwhile, as receive() does
        row_id = other.execute(insert(WebhookEvent).values(
            provider="sandbox", event_id=event["id"], event_type=event["type"],
            object_id=payment.psp_reference, payload=json.dumps(event))).inserted_primary_key[0]
    assert db.session().in_transaction()

    outcome = webhooks.process(row_id)

    assert outcome is not None and outcome.result == "moved"
    assert history(payment.id)[-1] == "authorized"
