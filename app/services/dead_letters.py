"""Dead letters: inbox events whose processing failed and jobs RQ gave up on, shown to staff with
a redacted payload, and replayed — one, or many by provider and time range — after a dry run
that says what each replay would change.

A replay never applies anything itself: it puts the event back to RECEIVED (or the job back on
the queue) and the normal, idempotent path runs again — re-fetch from the PSP, forward moves
only, one effect per idempotency key. Replaying an event that meanwhile settled does nothing.
"""
from __future__ import annotations

import json
import re
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime

from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.registry import FailedJobRegistry
from sqlalchemy import select

from app.database import retry_transient, unit_of_work
from app.domain.payment_states import can_transition
from app.extensions import db, queues
from app.models import Payment, WebhookEvent
from app.models.webhooks import InboxStatus
from app.providers.base import EventKind, ProviderError
from app.providers.registry import get_provider
from app.services import audit, inbox
from app.services.audit import Actor

PAGE_SIZE = 50
REPLAY_LIMIT = 500  # one replay touches at most this many events; narrow the range for more

# Keys whose values are secrets or card data wherever they appear in a payload.
_SECRET_KEYS = re.compile(
    r"(^|_)(number|pan|cvc|cvv|cvc2|cvv2|client_secret|secret|password|api_key|authorization|"
    r"iban|account_number|routing_number|sort_code|token|nonce|fingerprint|exp_month|exp_year|"
    r"expiry|email|phone|signature)$", re.IGNORECASE)
# 13–19 digits, maybe grouped: anything shaped like a card number is masked, key or not.
_PAN = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")
REDACTED = "[redacted]"


def redact(payload: str, limit: int = 4000) -> str:
    """A payload safe to show staff: secret and card fields blanked, PAN-shaped digits masked."""
    try:
        shown = json.dumps(_redact_value(json.loads(payload)), indent=2, sort_keys=True)
    except (ValueError, TypeError):
        shown = payload
    shown = _PAN.sub(REDACTED, shown)
    return shown if len(shown) <= limit else shown[:limit] + "\n… (truncated)"


def _redact_value(value, key: str = ""):
    if isinstance(value, dict):
        return {k: _redact_value(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_value(v, key) for v in value]
    if key and _SECRET_KEYS.search(key) and value not in (None, ""):
        return REDACTED
    return value


@dataclass(frozen=True)
class Filter:
    """What staff asked to see or replay; empty fields match everything."""

    provider: str = ""
    since: datetime | None = None
    until: datetime | None = None
    before: int | None = None          # keyset cursor: inbox ids below this

    def as_args(self) -> dict:
        """The non-empty fields as URL arguments (links keep the filter)."""
        args = {"provider": self.provider,
                "from": self.since.isoformat(timespec="minutes") if self.since else "",
                "to": self.until.isoformat(timespec="minutes") if self.until else ""}
        return {k: v for k, v in args.items() if v}


class FilterError(ValueError):
    """A filter argument that cannot be read; the message names it."""


def parse_filter(args) -> Filter:
    """A Filter from URL or CLI arguments; FilterError naming the first bad one."""
    provider = (args.get("provider") or "").strip()
    if provider and not re.fullmatch(r"[a-z0-9_]{1,32}", provider):
        raise FilterError("The provider must be a name such as “sandbox” or “stripe”.")
    since, until = _moment(args, "from"), _moment(args, "to")
    if since and until and since > until:
        raise FilterError("“From” is after “to”.")
    before = (args.get("before") or "").strip()
    if before and not (before.isdigit() and 0 < int(before) < 2**63):
        raise FilterError("The page cursor must be an event number.")
    return Filter(provider, since, until, int(before) if before else None)


def _moment(args, name: str) -> datetime | None:
    value = (args.get(name) or "").strip()
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=None)
    except ValueError:
        raise FilterError(f"“{name}” must look like 2026-01-31 or 2026-01-31T14:30.") from None


def _events_query(wanted: Filter):
    query = select(WebhookEvent).where(WebhookEvent.status == InboxStatus.FAILED.value)
    if wanted.provider:
        query = query.where(WebhookEvent.provider == wanted.provider)
    if wanted.since:
        query = query.where(WebhookEvent.received_at >= wanted.since)
    if wanted.until:
        query = query.where(WebhookEvent.received_at <= wanted.until)
    return query


def failed_events(wanted: Filter, limit: int = PAGE_SIZE) -> tuple[list[WebhookEvent], bool]:
    """Failed inbox events, newest first, one page; and whether older ones remain."""
    query = _events_query(wanted).order_by(WebhookEvent.id.desc()).limit(limit + 1)
    if wanted.before:
        query = query.where(WebhookEvent.id < wanted.before)
    rows = list(db.session.execute(query).scalars())
    return rows[:limit], len(rows) > limit


@dataclass(frozen=True)
class FailedJob:
    """A job RQ gave up on (its retries used up), as staff see it."""

    job_id: str
    function: str
    args: str
    error: str
    attempts: int
    ended_at: datetime | None


def failed_jobs(limit: int = PAGE_SIZE) -> list[FailedJob]:
    """The newest failed jobs, except inbox events' (their inbox row is listed instead)."""
    registry = FailedJobRegistry(queue=queues.queue)
    ids = [i for i in registry.get_job_ids(0, -1, desc=True, cleanup=False)
           if not i.startswith("inbox-")][:limit]
    found = []
    for job in Job.fetch_many(ids, connection=queues.connection):
        if job is None:
            continue
        error = (job.latest_result().exc_string if job.latest_result() else "") or ""
        last_line = next((ln for ln in reversed(error.strip().splitlines()) if ln.strip()), "")
        retries = job.retries_left if job.retries_left is not None else 0
        tried = len(job.retry_intervals or []) - retries + 1 if job.retry_intervals else 1
        found.append(FailedJob(job.id, job.func_name, _PAN.sub(REDACTED, repr(job.args))[:200],
                               _PAN.sub(REDACTED, last_line)[:500], tried, job.ended_at))
    return found


# --- dry run and replay --------------------------------------------------------------------

@dataclass
class Preview:
    """What replaying one event would do, found without changing anything."""

    event: WebhookEvent
    kind: str
    target: str
    ours: str = ""
    psp: str = ""
    change: str = ""
    notes: list[str] = field(default_factory=list)


def dry_run(wanted: Filter | None = None, ids: list[int] | None = None) -> list[Preview]:
    """Preview replaying the failed events chosen by ids or by the filter (read-only; asks the
    PSP for the current state of the payments they concern)."""
    query = _events_query(wanted or Filter()).order_by(WebhookEvent.id).limit(REPLAY_LIMIT)
    if ids is not None:
        query = query.where(WebhookEvent.id.in_(ids))
    return [_preview(event) for event in db.session.execute(query).scalars()]


def _preview(event: WebhookEvent) -> Preview:
    provider = get_provider(event.provider)
    kind = provider.event_kind(event.event_type)
    preview = Preview(event, kind.value, f"{event.object_id or '—'}")
    if kind != EventKind.PAYMENT or not event.object_id:
        preview.change = (f"re-process: re-fetch the {kind.value} from {event.provider}, "
                          "apply forward moves only")
        return preview
    payment = db.session.execute(select(Payment).where(
        Payment.provider == event.provider, Payment.psp_reference == event.object_id)).scalar()
    if payment is None:
        preview.change = "none: no payment of ours has this reference (recorded as ignored)"
        return preview
    preview.target, preview.ours = f"payment #{payment.id}", payment.status
    try:
        report = provider.retrieve(event.object_id)
    except ProviderError as exc:
        preview.psp, preview.change = "unreachable", f"unknown until the PSP answers ({exc.code})"
        return preview
    preview.psp = report.status.value
    current = payment.state
    if report.status == current:
        preview.change = "none: already as the PSP reports"
    elif can_transition(current, report.status):
        preview.change = f"{current.value} → {report.status.value}"
    else:
        preview.change = f"none: {current.value} does not move to {report.status.value}"
    return preview


@retry_transient
def replay(ids: list[int], actor: Actor) -> list[int]:
    """Put the chosen failed events back to RECEIVED and queue them; the ids replayed (events
    that settled meanwhile are skipped). Audited, one record per replay."""
    with unit_of_work():
        rows = list(db.session.execute(select(WebhookEvent).where(
            WebhookEvent.id.in_(ids[:REPLAY_LIMIT]),
            WebhookEvent.status == InboxStatus.FAILED.value).with_for_update()).scalars())
        for row in rows:
            row.status = InboxStatus.RECEIVED.value
        replayed = sorted(row.id for row in rows)
        if replayed:
            audit.record(actor, "inbox.replayed", f"inbox:{replayed[0]}", events=replayed)
    for inbox_id in replayed:
        _discard_failed_job(f"inbox-{inbox_id}")
        inbox.enqueue(inbox_id)  # a lost enqueue is the sweeper's: the row is RECEIVED now
    return replayed


def _discard_failed_job(job_id: str) -> None:
    """Forget the event's failed job, if Redis still has one (it may have been flushed, or
    the event failed before a job ever ran: the inbox row is what counts)."""
    registry = FailedJobRegistry(queue=queues.queue)
    if job_id in registry:
        with suppress(NoSuchJobError):
            registry.remove(job_id, delete_job=True)


def requeue_job(job_id: str, actor: Actor) -> bool:
    """Run a failed job again (same id, same arguments); False when it is no longer failed."""
    registry = FailedJobRegistry(queue=queues.queue)
    if job_id not in registry:
        return False
    with unit_of_work():
        audit.record(actor, "job.replayed", f"job:{job_id}"[:128])
    registry.requeue(job_id)
    return True
