"""`flask inbox replay`: the dry run shows what would change and changes nothing; the replay
queues exactly the matching failed events, and the normal path applies them once."""
from __future__ import annotations

from app.extensions import db
from app.models import Payment, WebhookEvent
from tests.flows import run_jobs
from tests.services.test_svc_dead_letters import failed_webhook


def test_dry_run_then_replay(app, people, stack, monkeypatch):
    payment, row = failed_webhook(people, stack, monkeypatch)
    runner = app.test_cli_runner()

    dry = runner.invoke(args=["inbox", "replay", "--provider", "sandbox", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert f"#{row.id} sandbox payment_session.authorized payment #{payment.id}: ours " \
           "processing, PSP authorized → processing → authorized" in dry.stdout
    assert "nothing changed" in dry.stdout
    db.session.rollback()
    assert db.session.get(WebhookEvent, row.id).status == "failed"

    assert "no failed events match" in runner.invoke(
        args=["inbox", "replay", "--provider", "stripe"]).stdout
    done = runner.invoke(args=["inbox", "replay", "--id", str(row.id)])
    assert done.exit_code == 0 and "1 event(s) queued" in done.stdout
    run_jobs()
    db.session.rollback()
    assert db.session.get(Payment, payment.id).status == "captured"


def test_a_bad_range_is_refused(app):
    result = app.test_cli_runner().invoke(args=["inbox", "replay", "--from", "2026-02-01",
                                                "--to", "2026-01-01"])
    assert result.exit_code != 0 and "“From” is after “to”" in result.output
