"""The timeline of a dispute case: every message, file, status change, PSP event and ledger
effect is one CaseEvent, written in the same transaction as the change it describes."""
from __future__ import annotations

import json

from sqlalchemy import select

from app.extensions import db
from app.models.disputes import CaseEvent, DisputeCase

KINDS = frozenset({"message", "note", "file", "status", "psp_event", "ledger", "assignment",
                   "decision", "notification"})
ROLES = frozenset({"buyer", "seller", "support", "psp", "system"})


def log(case: DisputeCase, kind: str, actor_role: str, body: str = "", *,
        actor_id: int | None = None, internal: bool = False, **data) -> CaseEvent:
    """Append one event to a case's timeline (the caller's transaction commits it)."""
    if kind not in KINDS or actor_role not in ROLES:
        raise ValueError(f"unknown case event {kind!r} by {actor_role!r}")
    event = CaseEvent(case_id=case.id, kind=kind, actor_id=actor_id, actor_role=actor_role,
                      body=body, data=json.dumps(data, sort_keys=True, default=str),
                      internal=internal)
    db.session.add(event)
    db.session.flush()
    return event


def events(case_id: int, *, include_internal: bool) -> list[CaseEvent]:
    """A case's timeline, oldest first; support's internal notes only when asked for."""
    query = select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
    if not include_internal:
        query = query.where(CaseEvent.internal.is_(False))
    return list(db.session.execute(query).scalars())


def data_of(event: CaseEvent) -> dict:
    """An event's structured details."""
    return json.loads(event.data or "{}")
