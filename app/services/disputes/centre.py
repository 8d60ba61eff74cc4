"""Support's dispute centre: one queue of claims and chargebacks sorted by deadline, who works
each case, and notes that only staff ever see."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, func, or_, select

from app.clock import now
from app.database import locked, unit_of_work
from app.domain.dispute_states import (
    CHARGEBACK_OPEN,
    CLAIM_OPEN,
    CaseKind,
    ChargebackStatus,
    ClaimStatus,
)
from app.extensions import db
from app.keyset import Page, paginate
from app.models import CaseEvent, DisputeCase
from app.models.users import STAFF_ROLES, User
from app.services import audit
from app.services.audit import Actor
from app.services.disputes import case_log
from app.services.errors import NotFound, ServiceError

DUE_SOON = timedelta(hours=48)
STATES = ("open", "closed", "all")
MAX_NOTE = 4000
LIMIT = 50  # a screenful: the nearest deadlines first, "More cases" for the rest


@dataclass(frozen=True)
class QueueFilter:
    """What the queue shows: kind, status, open/closed, due within 48 h, assigned to someone."""

    kind: str = ""                 # "claim" | "chargeback" | "" (both)
    status: str = ""               # one status of either machine, or "" (any)
    state: str = "open"            # "open" | "closed" | "all"
    due_soon: bool = False         # a deadline within the next 48 hours (or passed)
    assigned_to: int | None = None

    def as_details(self) -> dict:
        """For the audit record of a queue view."""
        return {k: v for k, v in self.__dict__.items() if v not in ("", None, False)}


STATUSES = tuple(dict.fromkeys([s.value for s in ClaimStatus] + [s.value for s in
                                                                   ChargebackStatus]))


def parse_filter(args, viewer_id: int) -> QueueFilter:
    """A QueueFilter from query arguments; anything unknown is ignored, never trusted."""
    kind = args.get("kind", "")
    status = args.get("status", "")
    state = args.get("state", "open")
    return QueueFilter(kind=kind if kind in {k.value for k in CaseKind} else "",
                       status=status if status in STATUSES else "",
                       state=state if state in STATES else "open",
                       due_soon=args.get("due") == "48h",
                       assigned_to=viewer_id if args.get("mine") == "1" else None)


def _open_clause():
    # The first IN is implied by the OR that follows; it is there for the planner: SQLite uses
    # no index for an OR of ANDs and scanned every case ever opened (EXPLAIN QUERY PLAN: SCAN
    # dispute_cases), while an IN over the open statuses is a range of ix_dispute_cases_status.
    by_kind = or_(and_(DisputeCase.kind == CaseKind.CLAIM.value,
                       DisputeCase.status.in_([s.value for s in CLAIM_OPEN])),
                  and_(DisputeCase.kind == CaseKind.CHARGEBACK.value,
                       DisputeCase.status.in_([s.value for s in CHARGEBACK_OPEN])))
    return and_(DisputeCase.status.in_(OPEN_STATUSES), by_kind)


OPEN_STATUSES = sorted({s.value for s in CLAIM_OPEN} | {s.value for s in CHARGEBACK_OPEN})


# Keyset order of the queue: cases with a deadline first, the nearest first, then by number.
_NO_DEADLINE = case((DisputeCase.due_by.is_(None), 1), else_=0)
_DEADLINE = func.coalesce(DisputeCase.due_by, datetime(9999, 12, 31))
QUEUE_KEYS = (_NO_DEADLINE, _DEADLINE, DisputeCase.id)


def _queue_key(c: DisputeCase) -> list:
    return [1 if c.due_by is None else 0, c.due_by or datetime(9999, 12, 31), c.id]


def queue(filters: QueueFilter, at: datetime | None = None) -> list[DisputeCase]:
    """The first page of cases matching the filter, the nearest deadline first."""
    return queue_page(filters, None, at).rows


def queue_page(filters: QueueFilter, cursor: str | None, at: datetime | None = None,
               size: int = LIMIT) -> Page:
    """Cases matching the filter, the nearest deadline first (no deadline last), one keyset
    page after `cursor`."""
    at = at or now()
    query = select(DisputeCase)
    if filters.kind:
        query = query.where(DisputeCase.kind == filters.kind)
    if filters.status:
        query = query.where(DisputeCase.status == filters.status)
    if filters.state == "open":
        query = query.where(_open_clause())
    elif filters.state == "closed":
        query = query.where(~_open_clause())
    if filters.due_soon:
        query = query.where(DisputeCase.due_by.is_not(None), DisputeCase.due_by <= at + DUE_SOON)
    if filters.assigned_to is not None:
        query = query.where(DisputeCase.assigned_to == filters.assigned_to)
    return paginate(query, QUEUE_KEYS, cursor, size, descending=False, key_of=_queue_key)


def is_open(case: DisputeCase) -> bool:
    """True while the case can still move."""
    return case.state in (CLAIM_OPEN if case.kind == CaseKind.CLAIM.value else CHARGEBACK_OPEN)


def countdown(case: DisputeCase, at: datetime | None = None) -> str:
    """The deadline as people read it: "due in 1 d 4 h", "overdue by 3 h", "closed"."""
    if not is_open(case):
        return "closed"
    if case.due_by is None:
        return "no deadline"
    left = case.due_by - (at or now())
    text = _span(abs(left))
    return f"due in {text}" if left >= timedelta(0) else f"overdue by {text}"


def _span(delta: timedelta) -> str:
    minutes = int(delta.total_seconds()) // 60
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {mins} min" if mins else f"{hours} h"
    return f"{mins} min"


def urgency(case: DisputeCase, at: datetime | None = None) -> str:
    """"overdue", "soon" (within 48 h) or "" — for styling the countdown."""
    if not is_open(case) or case.due_by is None:
        return ""
    at = at or now()
    return "overdue" if case.due_by < at else "soon" if case.due_by <= at + DUE_SOON else ""


def staff() -> list[User]:
    """Everyone who can be given a case."""
    return list(db.session.execute(select(User).where(
        User.role.in_([r.value for r in STAFF_ROLES]), User.is_active_account.is_(True))
        .order_by(User.display_name)).scalars())


def _staff_member(user_id: int | None) -> User | None:
    user = db.session.get(User, user_id) if user_id else None
    return user if user is not None and user.has_role(*STAFF_ROLES) else None


def get_case(case_id: int) -> DisputeCase:
    """One case, or NotFound."""
    case = db.session.get(DisputeCase, case_id)
    if case is None:
        raise NotFound("No such case.")
    return case


def assign(case_id: int, staff_id: int | None, actor: Actor) -> DisputeCase:
    """Give a case to a staff member (None: back to the pool); recorded on the timeline."""
    by = _staff_member(actor.user_id)
    if by is None:
        raise NotFound("No such case.")
    to = _staff_member(staff_id)
    if staff_id is not None and to is None:
        raise ServiceError("Cases can only be given to support staff.")
    with unit_of_work():
        case = locked(DisputeCase, case_id)
        if case is None:
            raise NotFound("No such case.")
        before = case.assigned_to
        if before == staff_id:
            return case
        case.assigned_to = staff_id
        name = to.display_name if to else "nobody"
        case_log.log(case, "assignment", "support", f"Assigned to {name} by {by.display_name}.",
                     actor_id=by.id, before=before, after=staff_id, internal=True)
        audit.record(actor, "case.assigned", f"case:{case.id}", before=before, after=staff_id)
    return case


def add_note(case_id: int, body: str, actor: Actor) -> CaseEvent:
    """An internal note on a case: staff only, never shown to the buyer or the seller."""
    by = _staff_member(actor.user_id)
    text = (body or "").strip()
    if by is None:
        raise NotFound("No such case.")
    if not text or len(text) > MAX_NOTE:
        raise ServiceError(f"Write a note of 1 to {MAX_NOTE} characters.")
    with unit_of_work():
        case = locked(DisputeCase, case_id)
        if case is None:
            raise NotFound("No such case.")
        event = case_log.log(case, "note", "support", text, actor_id=by.id, internal=True)
        audit.record(actor, "case.note_added", f"case:{case.id}", event=event.id,
                     length=len(text))
    return event


def timeline(case_id: int) -> list[CaseEvent]:
    """Every entry of a case, internal ones included (staff's view)."""
    return case_log.events(case_id, include_internal=True)


def liable_if_lost(case: DisputeCase) -> str:
    """Who bears a chargeback if it is lost, as chargeback_money.book_loss will decide it:
    support's choice, else the seller — unless the lines the opening took no longer cover the
    disputed amount, then the platform. The case page's header and its form both say this."""
    liable = case.liable or "seller"
    if liable != "seller":
        return liable
    for event in case_log.events(case.id, include_internal=True):
        data = case_log.data_of(event)
        if event.kind == "ledger" and data.get("posting") == "dispute_opened":
            covered = sum(share["amount"] for share in data.get("shares", []))
            return "seller" if covered == case.amount else "platform"
    return liable
