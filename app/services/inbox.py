"""The webhook inbox's records: store an event once, mark what processing did, note failures,
find events stranded on the way to a worker, and queue them (one by one, or handed off to
this process's batching thread: app/handoff.py).

A row's `attempts` counts finished attempts: the one that settled it and each failure recorded
(a worker killed mid-job leaves no count: its row stays "received" for the sweeper).

Shared by every service that settles an object from a webhook (payments, refunds, disputes,
payouts): each marks its inbox row inside its own transaction, so the row and the object move
together or not at all.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from app.clock import now
from app.database import locked, retry_transient, unit_of_work
from app.extensions import db, queues
from app.handoff import Handoff
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
    # One Core INSERT … RETURNING: this is the whole durable write on the PSP's request path,
    # and the ORM's unit of work (identity map, flush plan) cost a third of it.
    table = WebhookEvent.__table__
    try:
        with unit_of_work():
            return db.session.execute(insert(table).values(
                provider=provider_name, event_id=event.event_id, event_type=event.type,
                object_id=event.object_id, payload=event.inbox_body or raw_body.decode("utf-8"),
            ).returning(table.c.id)).scalar_one()
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


def enqueue_many(inbox_ids: list[int]) -> None:
    """Queue the jobs of several stored events in one round trip (app/handoff.py)."""
    queues.enqueue_many("app.jobs.webhooks.process_event",
                        [((inbox_id,), f"inbox-{inbox_id}") for inbox_id in inbox_ids])


def hand_off(inbox_id: int) -> None:
    """After the row's commit: queue its job now ("inline"), or let this process's hand-off
    thread queue it with others ("batched", INBOX_HANDOFF). Inline raises RedisError when the
    queue is down; batched never does (the sweeper re-queues rows left unprocessed)."""
    app = current_app._get_current_object()
    if app.config.get("INBOX_HANDOFF", "batched") != "batched":
        enqueue(inbox_id)
        return
    handoff = app.extensions.get("holdfast_handoff")
    if handoff is None:
        handoff = app.extensions.setdefault("holdfast_handoff", Handoff(app, enqueue_many))
    handoff.put(inbox_id)


def flush_hand_off(timeout: float = 10.0) -> bool:
    """Wait for this process's hand-off thread to queue what it holds (True: nothing left)."""
    handoff = current_app.extensions.get("holdfast_handoff")
    return handoff.flush(timeout) if handoff is not None else True


class AlreadySettled(Exception):
    """Another run settled this inbox row while this one worked: the caller's transaction
    rolls back, so the event is applied once."""


SETTLED = frozenset({InboxStatus.PROCESSED.value, InboxStatus.IGNORED.value})


def pending(inbox_id: int) -> Stored | None:
    """Read a row still to be processed (no lock, no write); None when it is already settled
    (a rerun or a duplicate job). Only a first filter: `mark` checks again under the row's
    lock, in the transaction that applies the event."""
    session = db.session()
    if session.in_transaction():
        # A snapshot the caller left open (an in-process worker reusing a session) would not
        # show a row committed since, and the event would be skipped as if it did not exist.
        session.rollback()
    row = db.session.execute(select(
        WebhookEvent.provider, WebhookEvent.event_id, WebhookEvent.event_type,
        WebhookEvent.object_id, WebhookEvent.payload, WebhookEvent.status).where(
        WebhookEvent.id == inbox_id)).one_or_none()
    if row is None or row.status in SETTLED:
        return None
    return Stored(inbox_id, row.provider, row.event_id, row.event_type, row.object_id,
                  row.payload)


def mark(inbox_id: int, status: InboxStatus, outcome: str) -> None:
    """Settle the row with what processing did, inside the caller's transaction and under the
    row's lock, counting the attempt; raises AlreadySettled when another run settled it first.

    This is the exactly-once guard: the row and the object it settles commit together, so two
    runs of one event (a duplicate job, a sweeper's re-enqueue) may both do the work, but only
    the first commits it; the second rolls back whole.
    """
    # One guarded Core UPDATE instead of a locked read and a flush: it takes the row's lock,
    # and a run that waited on it re-reads the row (PostgreSQL's READ COMMITTED; SQLite's write
    # lock serialises) and finds it settled, changing nothing.
    session = db.session()
    settled = session.connection().execute(
        update(WebhookEvent.__table__).where(WebhookEvent.id == inbox_id,
                                             WebhookEvent.status.not_in(sorted(SETTLED)))
        .values(attempts=WebhookEvent.attempts + 1, status=status.value,
                outcome=outcome[:255], processed_at=now()))
    if settled.rowcount != 1:
        raise AlreadySettled(f"inbox event {inbox_id} is already settled")
    loaded = session.identity_map.get(session.identity_key(WebhookEvent, inbox_id))
    if loaded is not None:  # a caller holding the row sees what was written, not its copy
        session.expire(loaded)


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
        if event is not None and event.status not in SETTLED:
            event.attempts += 1
            event.status, event.last_error = InboxStatus.FAILED.value, error[:2000]


def stranded(older_than_seconds: int) -> list[int]:
    """Inbox rows stored but never processed (Redis was down, a worker died)."""
    cutoff = now() - timedelta(seconds=older_than_seconds)
    return list(db.session.execute(select(WebhookEvent.id).where(
        WebhookEvent.status == InboxStatus.RECEIVED.value, WebhookEvent.received_at < cutoff)
    ).scalars())
