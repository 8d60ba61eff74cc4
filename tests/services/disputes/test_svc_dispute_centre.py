"""The dispute centre's queue (filters, deadline order, countdown), assignment and internal
notes."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from app.clock import now
from app.extensions import db
from app.models import AuditRecord, DisputeCase
from app.services.audit import Actor
from app.services.disputes import case_log, centre
from app.services.disputes.centre import QueueFilter
from app.services.errors import NotFound, ServiceError
from tests.flows import add, login, order_and_start

AT = datetime(2026, 11, 24, 12, 0, 0)


def _actor(people, who: str) -> Actor:
    return Actor(f"{who}@test.example", "127.0.0.1", people[who])


@pytest.fixture
def cases(app, people):
    """Cases of both kinds on one order: name → id."""
    client = app.test_client()
    login(client, "buyer")
    add(client, people["mug"])
    order_id, payment = order_and_start(client)
    line_id = payment.order.lines[0].id
    spec = {
        # name: (kind, status, due_by, assigned)
        "claim_soon": ("claim", "open", AT + timedelta(hours=5), "support"),
        "claim_later": ("claim", "contested", AT + timedelta(days=5), None),
        "claim_overdue": ("claim", "escalated", AT - timedelta(hours=3), "admin"),
        "claim_no_deadline": ("claim", "escalated", None, None),
        "claim_resolved": ("claim", "resolved", AT - timedelta(days=1), "support"),
        "cb_soon": ("chargeback", "needs_response", AT + timedelta(hours=47), None),
        "cb_review": ("chargeback", "under_review", AT + timedelta(days=3), "support"),
        "cb_lost": ("chargeback", "lost", AT + timedelta(hours=1), None),
    }
    ids = {}
    for n, (name, (kind, status, due, who)) in enumerate(spec.items()):
        case = DisputeCase(kind=kind, status=status, order_id=order_id, payment_id=payment.id,
                           order_line_id=line_id if kind == "claim" else None,
                           buyer_id=people["buyer"], seller_id=people["seller"],
                           reason="not_received" if kind == "claim" else "fraudulent",
                           currency="EUR", amount=2400, due_by=due,
                           assigned_to=people[who] if who else None,
                           provider="sandbox" if kind == "chargeback" else None,
                           psp_reference=f"dp_{n}" if kind == "chargeback" else None)
        db.session.add(case)
        db.session.flush()
        ids[name] = case.id
    db.session.commit()
    return ids


def names(cases: dict, found: list[DisputeCase]) -> list[str]:
    by_id = {v: k for k, v in cases.items()}
    return [by_id[c.id] for c in found]


def test_open_cases_sorted_by_deadline_with_none_last(cases):
    found = centre.queue(QueueFilter(), at=AT)
    assert names(cases, found) == ["claim_overdue", "claim_soon", "cb_soon", "cb_review",
                                   "claim_later", "claim_no_deadline"]


def test_keyset_pages_walk_the_same_order_with_deadlines_and_none(cases):
    """Two cases a page: the cursor carries (no deadline?, deadline, id), so the case without
    a deadline and equal deadlines page correctly, and the pages join into the full queue."""
    walked, cursor = [], None
    while True:
        page = centre.queue_page(QueueFilter(state="all"), cursor, at=AT, size=2)
        walked += page.rows
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert [c.id for c in walked] == [c.id for c in centre.queue(QueueFilter(state="all"),
                                                                  at=AT)]
    assert len(walked) == len(cases) and names(cases, walked)[-1] == "claim_no_deadline"


def test_closed_and_all(cases):
    assert names(cases, centre.queue(QueueFilter(state="closed"), at=AT)) == [
        "claim_resolved", "cb_lost"]
    assert len(centre.queue(QueueFilter(state="all"), at=AT)) == len(cases)


def test_filters_by_kind_status_deadline_and_assignee(cases, people):
    assert names(cases, centre.queue(QueueFilter(kind="chargeback"), at=AT)) == [
        "cb_soon", "cb_review"]
    assert names(cases, centre.queue(QueueFilter(status="escalated"), at=AT)) == [
        "claim_overdue", "claim_no_deadline"]
    # Within 48 h includes what is already overdue: that is the most urgent of all.
    assert names(cases, centre.queue(QueueFilter(due_soon=True), at=AT)) == [
        "claim_overdue", "claim_soon", "cb_soon"]
    mine = QueueFilter(assigned_to=people["support"], state="all")
    assert names(cases, centre.queue(mine, at=AT)) == [
        "claim_resolved", "claim_soon", "cb_review"]


def test_parse_filter_keeps_only_known_values(app):
    wanted = centre.parse_filter(MultiDict({
        "kind": "chargeback", "status": "lost", "state": "closed", "due": "48h", "mine": "1"}), 7)
    assert wanted == QueueFilter("chargeback", "lost", "closed", True, 7)
    junk = centre.parse_filter(MultiDict({
        "kind": "refund'--", "status": "bogus", "state": "everything", "due": "1", "mine": "yes"}),
        7)
    assert junk == QueueFilter()


@pytest.mark.parametrize("due, text, urgency", [
    (timedelta(days=1, hours=4, minutes=10), "due in 1 d 4 h", "soon"),
    (timedelta(hours=5), "due in 5 h", "soon"),
    (timedelta(hours=2, minutes=30), "due in 2 h 30 min", "soon"),
    (timedelta(minutes=12), "due in 12 min", "soon"),
    (timedelta(days=3), "due in 3 d 0 h", ""),
    (-timedelta(hours=3), "overdue by 3 h", "overdue"),
    (-timedelta(days=2, hours=1), "overdue by 2 d 1 h", "overdue"),
])
def test_countdown_reads_like_a_person_would_say_it(due, text, urgency):
    case = DisputeCase(kind="claim", status="open", due_by=AT + due)
    assert centre.countdown(case, at=AT) == text
    assert centre.urgency(case, at=AT) == urgency


def test_countdown_of_closed_and_undated_cases():
    assert centre.countdown(DisputeCase(kind="chargeback", status="won",
                                                due_by=AT), at=AT) == "closed"
    assert centre.countdown(DisputeCase(kind="claim", status="escalated",
                                                due_by=None), at=AT) == "no deadline"
    assert centre.urgency(DisputeCase(kind="claim", status="resolved",
                                              due_by=AT - timedelta(days=9)), at=AT) == ""


def test_assign_to_another_staff_member_and_back_to_nobody(cases, people):
    case_id = cases["claim_later"]
    centre.assign(case_id, people["admin"], _actor(people, "support"))
    db.session.expire_all()
    assert db.session.get(DisputeCase, case_id).assigned_to == people["admin"]
    centre.assign(case_id, None, _actor(people, "admin"))
    db.session.expire_all()
    assert db.session.get(DisputeCase, case_id).assigned_to is None
    events = [e for e in case_log.events(case_id, include_internal=True)
              if e.kind == "assignment"]
    assert [case_log.data_of(e)["after"] for e in events] == [people["admin"], None]
    assert all(e.internal for e in events)
    assert "Assigned to Admin by Support" in events[0].body
    records = db.session.execute(select(AuditRecord).where(
        AuditRecord.action == "case.assigned", AuditRecord.target == f"case:{case_id}")).all()
    assert len(records) == 2


def test_assign_only_to_and_by_staff(cases, people):
    with pytest.raises(ServiceError, match="only be given to support staff"):
        centre.assign(cases["cb_soon"], people["seller"], _actor(people, "support"))
    with pytest.raises(NotFound):
        centre.assign(cases["cb_soon"], people["seller"], _actor(people, "seller"))
    with pytest.raises(NotFound):
        centre.assign(999_999, people["support"], _actor(people, "support"))
    db.session.expire_all()
    assert db.session.get(DisputeCase, cases["cb_soon"]).assigned_to is None


def test_notes_are_internal_and_staff_only(cases, people):
    case_id = cases["claim_soon"]
    note = centre.add_note(case_id, "  Buyer called; tracking shows a return.  ",
                                   _actor(people, "support"))
    assert note.internal and note.body == "Buyer called; tracking shows a return."
    assert note.actor_id == people["support"] and note.kind == "note"
    assert note.id in [e.id for e in centre.timeline(case_id)]
    assert note.id not in [e.id for e in case_log.events(case_id, include_internal=False)]
    with pytest.raises(ServiceError):
        centre.add_note(case_id, "   ", _actor(people, "support"))
    with pytest.raises(ServiceError):
        centre.add_note(case_id, "x" * 4001, _actor(people, "support"))
    with pytest.raises(NotFound):
        centre.add_note(case_id, "I am the seller", _actor(people, "seller"))
    assert db.session.execute(select(AuditRecord).where(
        AuditRecord.action == "case.note_added")).scalar_one().target == f"case:{case_id}"


def test_staff_lists_support_and_admin_only(app, people):
    assert {u.id for u in centre.staff()} == {people["support"], people["admin"]}


def test_real_clock_is_used_by_default(cases):
    # The queue's "due within 48 h" uses now() when no time is given.
    found = centre.queue(QueueFilter(due_soon=True, state="all"))
    assert all(c.due_by <= now() + timedelta(hours=48) for c in found)
