"""The tamper-evident audit log: append in the caller's transaction, verify the hash chain."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import select, text

from app.clock import now
from app.database import is_postgresql
from app.extensions import db
from app.models import AuditRecord

GENESIS = "0" * 64
# Any constant: serialises appends on PostgreSQL so the chain never forks.
_CHAIN_LOCK = 727_001


@dataclass(frozen=True)
class Actor:
    """Who is acting and from where."""

    label: str                 # email, "system:<job>", "psp:<provider>"
    origin: str                # IP address, or "worker"
    user_id: int | None = None


SYSTEM = Actor("system", "worker")


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
