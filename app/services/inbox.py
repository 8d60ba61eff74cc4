"""The webhook inbox's records: store an event once, mark what processing did, note failures,
find events stranded on the way to a worker, and queue them.

Shared by every service that settles an object from a webhook (payments, refunds, disputes,
payouts): each marks its inbox row inside its own transaction, so the row and the object move
together or not at all.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.clock import now
from app.database import locked, retry_transient, unit_of_work
from app.extensions import db, queues
from app.models import WebhookEvent
from app.models.webhooks import InboxStatus
from app.providers.base import ProviderEvent


@dataclass(frozen=True)
class Stored:
    """What a worker needs of an inbox row to process it (read under the row's lock)."""

    inbox_id: int
    provider: str
    event_id: str
    event_type: str
    object_id: str | None
    payload: str


@retry_transient
def store(provider_name: str, event: ProviderEvent, raw_body: bytes) -> int | None:
    """Commit a verified event once; its inbox id, or None when it is a duplicate."""
    try:
        with unit_of_work():
            row = WebhookEvent(provider=provider_name, event_id=event.event_id,
                               event_type=event.type, object_id=event.object_id,
                               payload=event.inbox_body or raw_body.decode("utf-8"))
            db.session.add(row)
            db.session.flush()
            return row.id
    except IntegrityError:
        return None


def known_event_ids(provider_name: str, event_ids: list[str]) -> set[str]:
    """Which of these PSP event ids the inbox already holds (one query)."""
    if not event_ids:
        return set()
    return set(db.session.execute(select(WebhookEvent.event_id).where(
        WebhookEvent.provider == provider_name,
        WebhookEvent.event_id.in_(event_ids))).scalars())


def enqueue(inbox_id: int) -> None:
    """Queue the job that processes one stored event."""
    queues.enqueue("app.jobs.webhooks.process_event", inbox_id, job_id=f"inbox-{inbox_id}")


@retry_transient
def claim(inbox_id: int) -> Stored | None:
    """Count a processing attempt and read the row; None when it was already settled (a rerun
    or a duplicate job), so processing stays idempotent."""
    with unit_of_work():
        event = locked(WebhookEvent, inbox_id)
        if event is None or event.status in (InboxStatus.PROCESSED.value,
                                             InboxStatus.IGNORED.value):
            return None
        event.attempts += 1
        return Stored(inbox_id, event.provider, event.event_id, event.event_type,
                      event.object_id, event.payload)


def mark(inbox_id: int, status: InboxStatus, outcome: str) -> None:
    """Record what processing an inbox event did (inside the caller's transaction)."""
    event = locked(WebhookEvent, inbox_id)
    event.status, event.outcome, event.processed_at = status.value, outcome[:255], now()


@retry_transient
def ignore(inbox_id: int, outcome: str) -> None:
    """Settle an event that concerns nothing of ours, in its own transaction."""
    with unit_of_work():
        mark(inbox_id, InboxStatus.IGNORED, outcome)


@retry_transient
def record_failure(inbox_id: int, error: str) -> None:
    """Note a failed processing attempt on the inbox row (the job re-raises for RQ's retry)."""
    with unit_of_work():
        event = locked(WebhookEvent, inbox_id)
        if event is not None and event.status != InboxStatus.PROCESSED.value:
            event.status, event.last_error = InboxStatus.FAILED.value, error[:2000]


def stranded(older_than_seconds: int) -> list[int]:
    """Inbox rows stored but never processed (Redis was down, a worker died)."""
    cutoff = now() - timedelta(seconds=older_than_seconds)
    return list(db.session.execute(select(WebhookEvent.id).where(
        WebhookEvent.status == InboxStatus.RECEIVED.value, WebhookEvent.received_at < cutoff)
    ).scalars())
