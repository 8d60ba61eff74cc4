"""Jobs for the webhook inbox: process one event; sweep stranded ones."""
from __future__ import annotations

from app.jobs.context import app_context
from app.services import inbox, webhooks


def process_event(inbox_id: int) -> str:
    """Apply one stored webhook event; duplicates and reruns change nothing."""
    with app_context():
        try:
            outcome = webhooks.process(inbox_id)
        except Exception as exc:
            inbox.record_failure(inbox_id, f"{type(exc).__name__}: {exc}")
            raise  # RQ retries with backoff, then the job lands in the failed registry
        return outcome.result if outcome else "skipped"


def sweep_inbox() -> int:
    """Re-enqueue events that were stored but never processed; returns how many."""
    with app_context() as app:
        ids = inbox.stranded(older_than_seconds=app.config["INBOX_STRANDED_SECONDS"])
        for inbox_id in ids:
            inbox.enqueue(inbox_id)
        return len(ids)
