"""Jobs for the webhook inbox: process one event; sweep stranded ones; catch up on events
whose webhooks never arrived."""
from __future__ import annotations

from app.jobs.context import app_context
from app.providers.base import ProviderError
from app.providers.registry import configured
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


def catch_up_events() -> int:
    """The owner of last resort for lost webhooks: each PSP's recent events that our inbox
    lacks are stored and processed as if delivered; how many."""
    with app_context() as app:
        stored, unreachable = 0, []
        for provider_name in sorted(configured()):
            try:
                stored += webhooks.catch_up(provider_name, app.config["EVENT_CATCH_UP_LIMIT"])
            except ProviderError as exc:  # one PSP down must not starve the others
                unreachable.append(exc)
        if unreachable:
            raise unreachable[0]  # fail loudly; the next run tries again
        return stored
