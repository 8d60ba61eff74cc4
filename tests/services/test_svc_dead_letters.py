"""Dead letters: failed inbox events and jobs, redacted for staff, replayed after a dry run —
the replay goes through the normal idempotent path, so it has its effect once."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from rq.registry import FailedJobRegistry
from sqlalchemy import select

from app.clock import now
from app.extensions import db, queues
from app.models import AuditRecord, Payment, WebhookEvent
from app.services import dead_letters, webhooks
from app.services.audit import Actor
from app.services.payments import payments
from tests.flows import psp_call, run_jobs
from tests.services.test_svc_webhooks import paid_event, signed

STAFF = Actor("support@test.example", "127.0.0.1")


def failed_webhook(people, stack, monkeypatch) -> tuple[Payment, WebhookEvent]:
    """A real 'authorized' event whose processing failed (applying it raised once)."""
    payment, event = paid_event(people, stack)
    raw, headers = signed(event)
    assert webhooks.receive("sandbox", raw, headers).status == 200

    def broken(*args, **kwargs):
        raise RuntimeError("the ledger database was unreachable")

    with monkeypatch.context() as patched:
        patched.setattr(payments, "apply_report", broken)
        run_jobs()  # the job fails; RQ schedules a retry, the row says FAILED
    db.session.rollback()
    row = db.session.scalars(select(WebhookEvent)).one()
    assert (row.status, row.attempts) == ("failed", 1)
    assert row.last_error == "RuntimeError: the ledger database was unreachable"
    return payment, row


def test_redaction_blanks_secrets_and_card_data():
    payload = json.dumps({"id": "evt_1", "data": {"object": {
        "client_secret": "pi_123_secret_abc", "card": {"number": "4242424242424242",
                                                       "cvc": "123", "last4": "4242",
                                                       "brand": "visa"},
        "note": "paid with 4000 0027 6000 3184", "amount": 2400, "customer_email": "b@x.io"}}})

    shown = dead_letters.redact(payload)

    for secret in ("pi_123_secret_abc", "4242424242424242", "4000 0027 6000 3184", "b@x.io"):
        assert secret not in shown
    assert '"cvc": "[redacted]"' in shown
    assert '"last4": "4242"' in shown and '"amount": 2400' in shown and "evt_1" in shown


def test_a_dry_run_says_what_a_replay_would_change_and_changes_nothing(people, stack,
                                                                       monkeypatch):
    payment, row = failed_webhook(people, stack, monkeypatch)

    (preview,) = dead_letters.dry_run(dead_letters.Filter(provider="sandbox"))

    assert preview.event.id == row.id and preview.target == f"payment #{payment.id}"
    assert (preview.ours, preview.psp) == ("processing", "authorized")
    assert preview.change == "processing → authorized"
    db.session.rollback()
    assert db.session.get(Payment, payment.id).status == "processing"
    assert db.session.get(WebhookEvent, row.id).status == "failed"


def test_replay_applies_the_event_once(people, stack, monkeypatch, psp):
    payment, row = failed_webhook(people, stack, monkeypatch)

    assert dead_letters.replay([row.id], STAFF) == [row.id]
    assert dead_letters.replay([row.id], STAFF) == []  # no longer failed: left alone
    run_jobs()

    db.session.rollback()
    assert db.session.get(WebhookEvent, row.id).status == "processed"
    assert db.session.get(Payment, payment.id).status == "captured"
    executions = psp_call(stack["psp_url"], "GET", "/v1/_stats").json()["executions"]
    assert executions[f"{payment.idempotency_key}:capture"] == 1
    audited = db.session.scalars(select(AuditRecord).where(
        AuditRecord.action == "inbox.replayed")).all()
    assert len(audited) == 1 and json.loads(audited[0].details) == {"events": [row.id]}
    assert f"inbox-{row.id}" not in FailedJobRegistry(queue=queues.queue)


def test_the_filter_picks_events_by_provider_and_time(app, people, stack, monkeypatch):
    _, row = failed_webhook(people, stack, monkeypatch)
    received = row.received_at

    def chosen(**args) -> list[int]:
        return [p.event.id for p in dead_letters.dry_run(dead_letters.parse_filter(args))]

    assert chosen(provider="sandbox") == [row.id]
    assert chosen(provider="stripe") == []
    assert chosen(**{"from": (received - timedelta(minutes=1)).isoformat()}) == [row.id]
    assert chosen(**{"to": (received - timedelta(minutes=1)).isoformat()}) == []
    with pytest.raises(dead_letters.FilterError, match="after"):
        dead_letters.parse_filter({"from": "2026-02-01", "to": "2026-01-01"})
    with pytest.raises(dead_letters.FilterError, match="“from” must look like"):
        dead_letters.parse_filter({"from": "yesterday"})


def test_events_are_paged_newest_first(app):
    from app.database import unit_of_work

    with unit_of_work():
        for n in range(5):
            db.session.add(WebhookEvent(provider="sandbox", event_id=f"evt_{n}",
                                        event_type="payment_session.authorized", payload="{}",
                                        status="failed", received_at=now()))
    page, more = dead_letters.failed_events(dead_letters.Filter(), limit=2)
    assert [e.event_id for e in page] == ["evt_4", "evt_3"] and more
    page, more = dead_letters.failed_events(dead_letters.Filter(before=page[-1].id), limit=2)
    assert [e.event_id for e in page] == ["evt_2", "evt_1"] and more
    page, more = dead_letters.failed_events(dead_letters.Filter(before=page[-1].id), limit=2)
    assert [e.event_id for e in page] == ["evt_0"] and not more


def test_a_failed_job_is_listed_and_run_again(app):
    job = queues.queue.enqueue("app.jobs.payments.capture_payment", 999_999, job_id="capture-x")
    run_jobs()  # the payment does not exist: the job fails (no retry configured here)
    (listed,) = dead_letters.failed_jobs()
    assert listed.job_id == job.id and listed.function == "app.jobs.payments.capture_payment"
    assert "LookupError" in listed.error and listed.args == "(999999,)"

    assert dead_letters.requeue_job(job.id, STAFF) is True
    assert dead_letters.failed_jobs() == []
    assert job.id in queues.queue.get_job_ids()
    assert dead_letters.requeue_job("no-such-job", STAFF) is False


def test_an_event_whose_job_redis_no_longer_has_is_replayed(app):
    """After a FLUSHALL (or when no job ever ran) only the inbox row remains: it is enough."""
    from app.database import unit_of_work

    with unit_of_work():
        row = WebhookEvent(provider="sandbox", event_id="evt_orphan", payload="{}",
                           event_type="payment_session.authorized", object_id="ps_nobody",
                           status="failed", attempts=6, received_at=now())
        db.session.add(row)
    assert dead_letters.replay([row.id], STAFF) == [row.id]
    run_jobs()
    db.session.rollback()
    assert db.session.get(WebhookEvent, row.id).status == "ignored"  # no such payment of ours
