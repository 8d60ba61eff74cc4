"""Buyer claims in the service layer: open, contest, message, escalate, withdraw, overdue."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.clock import now
from app.database import unit_of_work
from app.domain.dispute_states import ClaimStatus
from app.extensions import db
from app.models import AuditRecord, DisputeCase, Notification
from app.services.audit import Actor
from app.services.disputes import case_log, claims, queries
from app.services.errors import Conflict, NotFound, ServiceError
from app.services.money import escrow
from tests.blueprints.money_steps import SUPPORT, holds, paid_order, release

BUYER = Actor("buyer@test.example", "127.0.0.1")
SELLER = Actor("seller@test.example", "127.0.0.1")


@pytest.fixture
def order(app, people, stack, psp) -> int:
    """A captured order: 2 mugs (seller, 48.00) and a candle (other seller, 16.90)."""
    return paid_order(app, people, stack, psp)


def _open(people, order, title="Mug", reason="not_received", message="Nothing arrived."):
    line_id = holds(order)[title].order_line_id
    return claims.open_claim(people["buyer"], line_id, reason, message, [], BUYER)


def _case(case_id: int) -> DisputeCase:
    db.session.expire_all()
    return db.session.get(DisputeCase, case_id)


def _notes(user_id: int) -> list[Notification]:
    """The claim's messages to a user (receipts and sale notices are not the claim's)."""
    db.session.expire_all()
    return list(db.session.execute(select(Notification).where(
        Notification.user_id == user_id, Notification.kind.like("claim%"))
        .order_by(Notification.id)).scalars())


def _actions() -> list[str]:
    return list(db.session.execute(select(AuditRecord.action).order_by(AuditRecord.id)).scalars())


# --- opening ----------------------------------------------------------------------------------

def test_opening_a_claim_freezes_the_line_and_asks_the_seller(app, people, order):
    before = now()
    case = _case(_open(people, order).id)
    assert (case.kind, case.status, case.reason) == ("claim", "open", "not_received")
    assert (case.buyer_id, case.seller_id, case.amount, case.currency) == (
        people["buyer"], people["seller"], 4800, "EUR")
    assert before + timedelta(days=3) <= case.due_by <= now() + timedelta(days=3)
    assert holds(order)["Mug"].status == "on_hold"
    assert holds(order)["Candle"].status == "held"  # the other seller's line is untouched
    kinds = [(e.kind, e.actor_role) for e in queries.timeline(case.id, viewer_role="buyer")]
    assert kinds == [("status", "buyer"), ("message", "buyer")]
    assert queries.timeline(case.id, viewer_role="buyer")[1].body == "Nothing arrived."
    assert {"claim.opened", "escrow.frozen"} <= set(_actions())
    [note] = _notes(people["seller"])
    assert "opened a claim" in note.subject and "Nothing arrived." in note.body
    assert _notes(people["buyer"]) == []


def test_one_open_claim_per_line(app, people, order):
    first = _open(people, order)
    with pytest.raises(Conflict, match="already an open claim"):
        _open(people, order)
    claims.withdraw(people["buyer"], first.id, BUYER)
    second = _open(people, order, reason="not_as_described")
    assert second.id != first.id and _case(second.id).status == "open"


def test_only_the_buyer_of_the_line_can_claim(app, people, order):
    line_id = holds(order)["Mug"].order_line_id
    for who, line in ((people["other_buyer"], line_id), (people["buyer"], 999_999)):
        with pytest.raises(NotFound):
            claims.open_claim(who, line, "not_received", "x", [], BUYER)
    assert db.session.query(DisputeCase).count() == 0
    assert holds(order)["Mug"].status == "held"


@pytest.mark.parametrize(("reason", "message", "error"), [
    ("changed_my_mind", "x", "Choose why"),
    ("not_received", "   ", "Write a message"),
    ("not_received", "x" * 4001, "at most 4000"),
])
def test_a_claim_needs_a_reason_and_a_message(app, people, order, reason, message, error):
    with pytest.raises(ServiceError, match=error):
        _open(people, order, reason=reason, message=message)
    assert db.session.query(DisputeCase).count() == 0


def test_a_released_line_can_be_claimed_within_the_window_and_nothing_freezes(app, people,
                                                                               order):
    release(holds(order)["Mug"].id)
    case = _open(people, order)
    assert holds(order)["Mug"].status == "released"
    [status] = [e for e in queries.timeline(case.id, viewer_role="buyer") if e.kind == "status"]
    assert case_log.data_of(status)["frozen"] is False
    claims.withdraw(people["buyer"], case.id, BUYER)
    assert holds(order)["Mug"].status == "released"


def test_no_claim_after_the_window(app, people, order):
    release(holds(order)["Mug"].id)
    with unit_of_work():
        hold = holds(order)["Mug"]
        hold.released_at = now() - timedelta(days=31)
    with pytest.raises(Conflict, match="30 days after the seller was paid"):
        _open(people, order)
    assert queries.line_claims(order)[holds(order)["Mug"].order_line_id] == (None, False)
    assert queries.line_claims(order)[holds(order)["Candle"].order_line_id] == (None, True)


# --- the seller answers -------------------------------------------------------------------------

def test_contesting_gives_the_buyer_the_next_move(app, people, order):
    case = _open(people, order)
    with unit_of_work():
        db.session.get(DisputeCase, case.id).due_by = now() + timedelta(hours=1)
    claims.contest(people["seller"], case.id, "Tracked and delivered.", [], SELLER)
    contested = _case(case.id)
    assert contested.status == "contested"
    assert contested.due_by > now() + timedelta(days=2)  # the buyer's turn, a fresh deadline
    assert holds(order)["Mug"].status == "on_hold"
    [note] = _notes(people["buyer"])
    assert "contested" in note.subject and "Tracked and delivered." in note.body
    with pytest.raises(Conflict, match="This claim is contested; it cannot be contested now"):
        claims.contest(people["seller"], case.id, "Again.", [], SELLER)


def test_contesting_needs_a_message_and_the_right_seller(app, people, order):
    case = _open(people, order)
    with pytest.raises(ServiceError, match="Write a message"):
        claims.contest(people["seller"], case.id, "", [], SELLER)
    with pytest.raises(NotFound):
        claims.contest(people["other_seller"], case.id, "Not mine.", [], SELLER)
    assert _case(case.id).status == "open"


def test_messages_reach_the_other_side_and_stop_when_closed(app, people, order):
    case = _open(people, order)
    claims.add_message(people["seller"], "seller", case.id, "Which address?", [], SELLER)
    claims.add_message(people["buyer"], "buyer", case.id, "Main Street 1.", [], BUYER)
    assert [n.body.split("\n")[0] for n in _notes(people["buyer"])] == ["Which address?"]
    assert "Main Street 1." in _notes(people["seller"])[-1].body
    for who, role in ((people["other_buyer"], "buyer"), (people["other_seller"], "seller"),
                      (people["buyer"], "support")):
        with pytest.raises(NotFound):
            claims.add_message(who, role, case.id, "Let me in.", [], BUYER)
    claims.add_message(people["support"], "support", case.id, "Looking into it.", [], SUPPORT)
    assert "Looking into it." in _notes(people["seller"])[-1].body
    claims.withdraw(people["buyer"], case.id, BUYER)
    with pytest.raises(Conflict, match="withdrawn; no more messages"):
        claims.add_message(people["buyer"], "buyer", case.id, "One more thing.", [], BUYER)


# --- escalation and withdrawal ----------------------------------------------------------------

def test_either_side_escalates_once(app, people, order):
    case = _open(people, order)
    with pytest.raises(NotFound):
        claims.escalate(people["other_buyer"], "buyer", case.id, BUYER)
    claims.escalate(people["seller"], "seller", case.id, SELLER)
    escalated = _case(case.id)
    assert escalated.status == "escalated" and escalated.escalated_at is not None
    assert "support" in _notes(people["buyer"])[-1].subject
    with pytest.raises(Conflict, match="escalated; it cannot be escalated now"):
        claims.escalate(people["buyer"], "buyer", case.id, BUYER)
    assert "claim.escalated" in _actions()


def test_withdrawing_lets_the_line_go_on(app, people, order):
    case = _open(people, order)
    claims.escalate(people["buyer"], "buyer", case.id, BUYER)
    with pytest.raises(NotFound):
        claims.withdraw(people["other_buyer"], case.id, BUYER)
    claims.withdraw(people["buyer"], case.id, BUYER)
    done = _case(case.id)
    assert (done.status, done.resolution, done.due_by) == ("withdrawn", "withdrawn", None)
    assert holds(order)["Mug"].status == "held"
    assert "withdrew" in _notes(people["seller"])[-1].subject
    with pytest.raises(Conflict, match="withdrawn; it cannot be withdrawn now"):
        claims.withdraw(people["buyer"], case.id, BUYER)


def test_withdrawing_keeps_a_support_hold_it_did_not_make(app, people, order):
    escrow.support_decide(holds(order)["Mug"].id, "hold", SUPPORT)
    case = _open(people, order)
    claims.withdraw(people["buyer"], case.id, BUYER)
    assert holds(order)["Mug"].status == "on_hold"


def test_the_internal_notes_stay_with_support(app, people, order):
    case = _open(people, order)
    with unit_of_work():
        case_log.log(db.session.get(DisputeCase, case.id), "note", "support", "Buyer looks odd.",
                     actor_id=people["support"], internal=True)
    for role in ("buyer", "seller"):
        assert "Buyer looks odd." not in [e.body for e in queries.timeline(case.id,
                                                                          viewer_role=role)]
    for role in ("support", "admin"):
        assert "Buyer looks odd." in [e.body for e in queries.timeline(case.id, viewer_role=role)]


# --- overdue claims go to support ---------------------------------------------------------------

def test_unanswered_claims_escalate_by_themselves_once(app, people, order):
    waiting = _open(people, order)
    contested = _open(people, order, title="Candle")
    claims.contest(people["other_seller"], contested.id, "Delivered.", [], SELLER)
    assert claims.escalate_overdue(now() + timedelta(days=2)) == []
    later = now() + timedelta(days=4)
    assert claims.escalate_overdue(later) == [waiting.id, contested.id]
    assert claims.escalate_overdue(later) == []
    for case_id in (waiting.id, contested.id):
        case = _case(case_id)
        assert case.status == "escalated"
        assert case_log.data_of(queries.timeline(case_id, viewer_role="buyer")[-1])["status"] \
            == "escalated"
        assert queries.timeline(case_id, viewer_role="buyer")[-1].actor_role == "system"
    assert "did not come in time" in _notes(people["seller"])[-1].body


def test_an_answered_claim_is_not_escalated(app, people, order):
    case = _open(people, order)
    claims.withdraw(people["buyer"], case.id, BUYER)
    assert claims.escalate_overdue(now() + timedelta(days=10)) == []
    assert _case(case.id).status == ClaimStatus.WITHDRAWN.value
