"""The tamper-evident audit log: append in the caller's transaction, verify the keyed hash chain
and its checkpoints outside the database (services/audit_keys.py)."""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import event, func, select, text
from sqlalchemy.orm import Session

from app import keyset
from app.clock import now
from app.database import is_postgresql, retry_transient, unit_of_work
from app.extensions import db
from app.models import AuditRecord
from app.services import audit_keys
from app.services.audit_keys import KeyRing
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


def _body(prev_hash: str, record: AuditRecord) -> dict:
    return {
        "prev": prev_hash,
        "at": record.occurred_at.isoformat(timespec="microseconds"),
        "actor_id": record.actor_id, "actor": record.actor, "action": record.action,
        "outcome": record.outcome, "origin": record.origin, "target": record.target,
        "details": record.details,
    }


def _canonical(body: dict) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def _digest(prev_hash: str, record: AuditRecord, keys: KeyRing | None = None) -> str | None:
    """The record's hash: HMAC under the key it names, or SHA-256 for a legacy record. None
    when the key it names is not configured (it cannot be checked)."""
    body = _body(prev_hash, record)
    if record.key_id is None:
        return hashlib.sha256(_canonical(body)).hexdigest()
    keys = keys or audit_keys.ring()
    if record.key_id not in keys.keys:
        return None
    body.update(key_id=record.key_id, position=record.position)
    return keys.sign(_canonical(body), record.key_id)


def record(actor: Actor, action: str, target: str, outcome: str = "success",
           **details) -> AuditRecord:
    """Append one record in the current transaction (the caller commits)."""
    session = db.session()  # the request's Session (the scoped proxy lacks get_transaction)
    transaction, nested = session.get_transaction(), session.in_nested_transaction()
    known = session.info.get(_TX_HEAD)
    if known is not None and known[0] is transaction and not nested:
        # This transaction appended the head itself, and holds the chain's lock (the advisory
        # lock on PostgreSQL, BEGIN IMMEDIATE on SQLite) until it ends: nobody appended since.
        prev, position = known[2], known[1] + 1
    else:
        prev, position = _read_head()
    keys = audit_keys.ring()
    entry = AuditRecord(occurred_at=now(), actor_id=actor.user_id, actor=actor.label[:254],
                        action=action, outcome=outcome, origin=actor.origin[:64],
                        target=target[:128],
                        details=json.dumps(details, sort_keys=True, default=str),
                        key_id=keys.current_id, position=position)
    entry.prev_hash = prev
    entry.hash = _digest(prev, entry, keys)
    db.session.add(entry)
    db.session.flush()
    db.session.info[_HEAD] = (position, entry.id, entry.hash)
    # Not remembered inside a savepoint: its rollback would leave a head that is not there.
    session.info[_TX_HEAD] = None if nested else (transaction, position, entry.hash)
    return entry


def _read_head() -> tuple[str, int]:
    """Lock the chain for this transaction; (previous hash, position of the next record)."""
    if is_postgresql():
        db.session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _CHAIN_LOCK})
    # Without an autoflush: what the caller has pending (an order's address, a payment's new
    # status) is flushed with the record itself, one unit-of-work pass instead of two. Nothing
    # pending can change the head: every record is flushed as it is appended.
    with db.session.no_autoflush:
        head = db.session.execute(select(AuditRecord.hash, AuditRecord.position)
                                  .order_by(AuditRecord.id.desc()).limit(1)).first()
    if head is None:
        return GENESIS, 1
    if head.position is None:  # the first keyed record after the legacy ones: count once
        return head.hash, db.session.execute(select(func.count(AuditRecord.id))).scalar_one() + 1
    return head.hash, head.position + 1


_HEAD = "holdfast_audit_head"
# The head this transaction appended (transaction, position, hash): a second record in the same
# transaction (a payment and its screening, a transition and its ledger) skips the read.
_TX_HEAD = "holdfast_audit_tx_head"


@event.listens_for(Session, "after_commit")
def _anchor_after_commit(session) -> None:
    """The transaction that appended records is durable: checkpoint its head outside the DB."""
    head = session.info.pop(_HEAD, None)
    if head is None:
        return
    try:
        audit_keys.write_checkpoint(*head)
    except OSError:  # the records stand; the next append writes a newer checkpoint
        logging.getLogger("holdfast.audit").exception("could not write the audit checkpoint")


@event.listens_for(Session, "after_rollback")
def _forget_head(session) -> None:
    session.info.pop(_HEAD, None)


def verify_chain() -> list[str]:
    """Walk the log in order and check it against the checkpoints outside the database;
    return a description of every problem (empty: intact)."""
    problems: list[str] = []
    keys = audit_keys.ring()
    checkpoints, problems_in_file = audit_keys.read_checkpoints()
    problems += problems_in_file
    seen: dict[int, tuple[int, str]] = {}   # id → (position, hash), for the checkpoints
    wanted = {mark.last_id for mark in checkpoints}
    prev, count, keyed_seen, prev_position = GENESIS, 0, False, 0
    for entry in db.session.execute(select(AuditRecord).order_by(AuditRecord.id)).scalars():
        count += 1
        # A keyed record counts on from the one before it (the first one from the legacy count).
        misplaced = entry.key_id is not None and entry.position != (prev_position or count-1) + 1
        if entry.prev_hash != prev or misplaced:
            problems.append(f"record {entry.id}: does not follow the previous record "
                            "(a record before it was removed, inserted or changed)")
        expected = _digest(entry.prev_hash, entry, keys)
        if entry.key_id is None and keyed_seen:
            problems.append(f"record {entry.id}: unsigned record after signed ones "
                            "(inserted or rewritten without the audit key)")
        elif expected is None:
            problems.append(f"record {entry.id}: signed with key {entry.key_id}, which is "
                            "neither AUDIT_KEY nor in AUDIT_RETIRED_KEYS")
        elif not hmac.compare_digest(expected, entry.hash):
            problems.append(f"record {entry.id}: its contents were changed after it was written")
        keyed_seen = keyed_seen or entry.key_id is not None
        prev_position = entry.position or 0
        if entry.id in wanted:
            seen[entry.id] = (entry.position, entry.hash)
        prev = entry.hash
    problems += _against_checkpoints(checkpoints, seen, count)
    return problems


def _against_checkpoints(checkpoints, seen: dict[int, tuple[int, str]], count: int) -> list[str]:
    """Every checkpoint's record must still be there, at its place, with its hash."""
    problems = []
    for mark in checkpoints:
        found = seen.get(mark.last_id)
        if found is None:
            problems.append(f"record {mark.last_id}, number {mark.count} of the log when it "
                            f"was anchored, is missing (the log now has {count} records)")
        elif found != (mark.count, mark.hash):
            problems.append(f"record {mark.last_id} differs from its checkpoint (anchored as "
                            f"number {mark.count}): the chain was recomputed")
    return sorted(set(problems), key=problems.index)


@retry_transient
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
    after: str | None = None         # keyset cursor (app/keyset.py): older than this page

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
    after = keyset.cursor_arg(args)
    if after:
        keyset.decode(after, (int,))  # a bad link is refused here, with the other filters
    return LogFilter(outcome=outcome, since=since, until=until, after=after, **text_fields)


def _day(args, name: str) -> date | None:
    value = (args.get(name) or "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ServiceError(f"The “{name}” date must look like 2026-01-31.") from None


def search(wanted: LogFilter, limit: int = PAGE_SIZE) -> keyset.Page:
    """Matching records, newest first, one keyset page of at most limit."""
    query = select(AuditRecord)
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
    return keyset.paginate(query, [AuditRecord.id], wanted.after, limit)


def verify_records(rows: list[AuditRecord]) -> list[str]:
    """Check the shown records against the chain: their own hash and both neighbours' links.

    A cheap local check for one page (two indexed look-ups per record) instead of walking the
    whole log on every view; `flask audit verify` remains the full check.
    """
    problems: list[str] = []
    for entry in rows:
        if _digest(entry.prev_hash, entry) not in (entry.hash, None):
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
