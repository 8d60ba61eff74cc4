"""The tamper-evident audit log: append in the caller's transaction, verify the hash chain."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import select, text

from app.clock import now
from app.database import is_postgresql, unit_of_work
from app.extensions import db
from app.models import AuditRecord
from app.services.errors import ServiceError

GENESIS = "0" * 64
# Any constant: serialises appends on PostgreSQL so the chain never forks.
_CHAIN_LOCK = 727_001


@dataclass(frozen=True)
class Actor:
    """Who is acting and from where."""

    label: str                 # email, "system:<job>", "psp:<provider>"
    origin: str                # IP address, or "worker"
    user_id: int | None = None


def _digest(prev_hash: str, record: AuditRecord) -> str:
    body = json.dumps({
        "prev": prev_hash,
        "at": record.occurred_at.isoformat(timespec="microseconds"),
        "actor_id": record.actor_id, "actor": record.actor, "action": record.action,
        "outcome": record.outcome, "origin": record.origin, "target": record.target,
        "details": record.details,
    }, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


def record(actor: Actor, action: str, target: str, outcome: str = "success",
           **details) -> AuditRecord:
    """Append one record in the current transaction (the caller commits)."""
    if is_postgresql():
        db.session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _CHAIN_LOCK})
    prev = db.session.execute(
        select(AuditRecord.hash).order_by(AuditRecord.id.desc()).limit(1)
    ).scalar_one_or_none() or GENESIS
    entry = AuditRecord(occurred_at=now(), actor_id=actor.user_id, actor=actor.label[:254],
                        action=action, outcome=outcome, origin=actor.origin[:64],
                        target=target[:128],
                        details=json.dumps(details, sort_keys=True, default=str))
    entry.prev_hash = prev
    entry.hash = _digest(prev, entry)
    db.session.add(entry)
    db.session.flush()
    return entry


def verify_chain() -> list[str]:
    """Walk the log in order; return a description of every broken link (empty: intact)."""
    problems: list[str] = []
    prev = GENESIS
    for entry in db.session.execute(select(AuditRecord).order_by(AuditRecord.id)).scalars():
        if entry.prev_hash != prev:
            problems.append(f"record {entry.id}: does not follow the previous record "
                            "(a record before it was removed, inserted or changed)")
        if _digest(entry.prev_hash, entry) != entry.hash:
            problems.append(f"record {entry.id}: its contents were changed after it was written")
        prev = entry.hash
    return problems


def record_access(actor: Actor, action: str, target: str, outcome: str = "success",
                  **details) -> None:
    """Record a read of protected data (payments, the audit log), or a refused reach for
    someone else's object, in its own transaction.

    Reads have no transaction of their own to join, and PCI DSS 10.2.1 wants them logged too.
    """
    with unit_of_work():
        record(actor, action, target, outcome=outcome, **details)


# --- Browsing the log (admins) --------------------------------------------------------------

PAGE_SIZE = 50
OUTCOMES = ("success", "failure")


@dataclass(frozen=True)
class LogFilter:
    """What an admin asked to see; empty fields match everything."""

    action: str = ""                 # prefix, e.g. "auth." or "payment.viewed"
    actor: str = ""                  # substring of the actor label
    target: str = ""                 # exact, e.g. "payment:12"
    outcome: str = ""                # success | failure
    since: date | None = None        # inclusive, UTC day
    until: date | None = None        # inclusive, UTC day
    before: int | None = None        # cursor: only records with a smaller id (older)

    def as_details(self) -> dict:
        """The non-empty fields, for the audit.viewed record and for links."""
        return {k: (v.isoformat() if isinstance(v, date) else v)
                for k, v in self.__dict__.items() if v not in ("", None)}


_LIMITS = {"action": 64, "actor": 254, "target": 128}


def parse_filter(args) -> LogFilter:
    """Build a LogFilter from query arguments; ServiceError naming the first bad field."""
    text_fields = {}
    for name, limit in _LIMITS.items():
        value = (args.get(name) or "").strip()
        if len(value) > limit:
            raise ServiceError(f"The {name} filter is longer than {limit} characters.")
        text_fields[name] = value
    outcome = (args.get("outcome") or "").strip()
    if outcome and outcome not in OUTCOMES:
        raise ServiceError("The outcome filter must be “success” or “failure”.")
    since, until = _day(args, "from"), _day(args, "to")
    if since and until and since > until:
        raise ServiceError("The “from” date is after the “to” date.")
    before = (args.get("before") or "").strip()
    if before and not (before.isdigit() and 0 < int(before) < 2**63):
        raise ServiceError("The page cursor must be a record number.")
    return LogFilter(outcome=outcome, since=since, until=until,
                     before=int(before) if before else None, **text_fields)


def _day(args, name: str) -> date | None:
    value = (args.get(name) or "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ServiceError(f"The “{name}” date must look like 2026-01-31.") from None


def search(wanted: LogFilter, limit: int = PAGE_SIZE) -> tuple[list[AuditRecord], bool]:
    """Matching records, newest first, at most limit; and whether older ones remain."""
    query = select(AuditRecord).order_by(AuditRecord.id.desc()).limit(limit + 1)
    if wanted.action:
        query = query.where(AuditRecord.action.startswith(wanted.action, autoescape=True))
        if not is_postgresql():
            # SQLite never uses an index for LIKE with ESCAPE: the same prefix as a range on
            # ix_audit_log_action (binary order, as SQLite compares) keeps a rare action's
            # search from scanning the whole log (bench/scale.py). PostgreSQL uses
            # ix_audit_log_action_pattern for the LIKE itself.
            query = query.where(AuditRecord.action >= wanted.action,
                                AuditRecord.action < wanted.action + "\U0010ffff")
    if wanted.actor:
        query = query.where(AuditRecord.actor.contains(wanted.actor, autoescape=True))
    if wanted.target:
        query = query.where(AuditRecord.target == wanted.target)
    if wanted.outcome:
        query = query.where(AuditRecord.outcome == wanted.outcome)
    if wanted.since:
        query = query.where(AuditRecord.occurred_at >= datetime.combine(wanted.since, time.min))
    if wanted.until:
        query = query.where(AuditRecord.occurred_at
                            < datetime.combine(wanted.until + timedelta(days=1), time.min))
    if wanted.before:
        query = query.where(AuditRecord.id < wanted.before)
    rows = list(db.session.execute(query).scalars())
    return rows[:limit], len(rows) > limit


def verify_records(rows: list[AuditRecord]) -> list[str]:
    """Check the shown records against the chain: their own hash and both neighbours' links.

    A cheap local check for one page (two indexed look-ups per record) instead of walking the
    whole log on every view; `flask audit verify` remains the full check.
    """
    problems: list[str] = []
    for entry in rows:
        if _digest(entry.prev_hash, entry) != entry.hash:
            problems.append(f"record {entry.id}: its contents were changed after it was written")
        before = db.session.execute(select(AuditRecord.hash).where(AuditRecord.id < entry.id)
                                    .order_by(AuditRecord.id.desc()).limit(1)).scalar()
        if entry.prev_hash != (before or GENESIS):
            problems.append(f"record {entry.id}: does not follow the previous record")
        after = db.session.execute(select(AuditRecord.id, AuditRecord.prev_hash)
                                   .where(AuditRecord.id > entry.id)
                                   .order_by(AuditRecord.id).limit(1)).first()
        if after is not None and after.prev_hash != entry.hash:
            problems.append(f"record {after.id}: does not follow the previous record")
    return sorted(set(problems), key=problems.index)
