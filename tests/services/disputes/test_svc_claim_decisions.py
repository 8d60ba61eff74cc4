"""How claims end with money moving: previews, support's decisions, the seller accepting."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.clock import now
from app.database import unit_of_work
from app.domain.ledger import AccountKind
from app.extensions import db
from app.models import AuditRecord, DisputeCase, LedgerEntry, Notification
from app.models.disputes import CaseEvent
from app.models.refunds import Refund
from app.services.audit import Actor
from app.services.disputes import case_log, claims, decisions, queries
from app.services.disputes.decisions import Decision
from app.services.errors import Conflict, NotFound, ServiceError
from app.services.money import ledger, payouts
from app.services.refunds import refunds
from tests.blueprints.money_steps import (
    SUPPORT,
    add_bank_account,
    holds,
    paid_order,
    release,
)
from tests.flows import closed_port_url, latest_payment

BUYER = Actor("buyer@test.example", "127.0.0.1")
SELLER = Actor("seller@test.example", "127.0.0.1")


@pytest.fixture
def order(app, people, stack, psp) -> int:
    """A captured order: 2 mugs (seller, 48.00, fee 4.80) and a candle (other seller)."""
    return paid_order(app, people, stack, psp)


@pytest.fixture
def claim(people, order) -> int:
    """An open claim on the mugs."""
    line_id = holds(order)["Mug"].order_line_id
    return claims.open_claim(people["buyer"], line_id, "not_as_described", "Cracked.", [],
                             BUYER).id


@pytest.fixture
def staff(people) -> Actor:
    """Support, acting from the dispute centre."""
    return Actor("support@test.example", "127.0.0.1", people["support"])


def _case(case_id: int) -> DisputeCase:
    db.session.expire_all()
    return db.session.get(DisputeCase, case_id)


def _available(seller_id: int) -> int:
    db.session.expire_all()
    return ledger.balance(AccountKind.SELLER_AVAILABLE, str(seller_id), "EUR")


def _count(model) -> int:
    return db.session.execute(select(func.count()).select_from(model)).scalar()


def _psp_fee_share(order: int, amount: int) -> int:
    payment = latest_payment(order)
    return (payment.psp_fee_amount * amount * 2 + payment.amount_captured) // (
        2 * payment.amount_captured)


# --- previews ---------------------------------------------------------------------------------

def test_preview_of_a_full_refund_of_a_held_line(app, people, order, claim):
    preview = decisions.decision_preview(claim, Decision("refund_full"))
    assert (preview.buyer_refund, preview.from_escrow,
            preview.released_to_seller) == (4800, 4800, 0)
    assert (preview.platform_fee_returned, preview.platform_fee_kept) == (480, 0)
    assert (preview.seller_clawback_from_balance,
            preview.seller_clawback_from_future_payouts) == (0, 0)
    assert preview.psp_fee_lost == _psp_fee_share(order, 4800) > 0
    assert preview.currency == "EUR" and preview.refund_plan.total == 4800


def test_preview_of_a_split_releases_the_rest_net_of_its_fee(app, people, order, claim):
    preview = decisions.decision_preview(claim, Decision("split", 2000))
    assert (preview.buyer_refund, preview.from_escrow) == (2000, 2000)
    assert (preview.platform_fee_returned, preview.platform_fee_kept) == (200, 280)
    assert preview.released_to_seller == 2800 - 280
    partial = decisions.decision_preview(claim, Decision("refund_partial", 2000))
    assert partial.released_to_seller == 0 and partial.platform_fee_kept == 280
    keep = decisions.decision_preview(claim, Decision("release"))
    assert (keep.buyer_refund, keep.released_to_seller, keep.platform_fee_kept,
            keep.psp_fee_lost, keep.refund_plan) == (0, 4320, 480, 0, None)


def test_preview_after_release_claws_back_from_balance_then_future_payouts(app, people, order):
    release(holds(order)["Mug"].id)
    line_id = holds(order)["Mug"].order_line_id
    case_id = claims.open_claim(people["buyer"], line_id, "not_as_described", "Broken.", [],
                                BUYER).id
    preview = decisions.decision_preview(case_id, Decision("refund_partial", 1000))
    assert (preview.from_escrow, preview.seller_clawback_from_balance,
            preview.seller_clawback_from_future_payouts) == (0, 900, 0)
    assert preview.platform_fee_returned == 100 and preview.released_to_seller == 0
    # The seller's balance leaves for their bank: a clawback can only come from future sales.
    add_bank_account(people["seller"])
    assert payouts.book_payout(people["seller"], "EUR", SUPPORT) is not None
    preview = decisions.decision_preview(case_id, Decision("refund_full"))
    assert (preview.seller_clawback_from_balance,
            preview.seller_clawback_from_future_payouts) == (0, 4320)
    assert preview.refund_plan.lines[0].seller_available_after == -4320


def test_a_preview_changes_nothing(app, people, order, claim):
    counts = [_count(m) for m in (Refund, LedgerEntry, CaseEvent, AuditRecord, Notification)]
    for decision in (Decision("refund_full"), Decision("split", 100), Decision("release")):
        decisions.decision_preview(claim, decision)
    assert [_count(m) for m in (Refund, LedgerEntry, CaseEvent, AuditRecord,
                                Notification)] == counts
    assert _case(claim).status == "open" and holds(order)["Mug"].status == "on_hold"


@pytest.mark.parametrize(("decision", "error"), [
    (Decision("refund_partial", 4800), "use “refund in full”"),
    (Decision("split", 0), "Enter the amount"),
    (Decision("split", None), "Enter the amount"),
    (Decision("refund_partial", True), "Enter the amount"),
    (Decision("keep_it"), "Choose refund in full"),
])
def test_bad_decisions_are_refused_with_the_reason(app, people, order, claim, staff,
                                                   decision, error):
    with pytest.raises(ServiceError, match=error):
        decisions.decision_preview(claim, decision)
    with pytest.raises(ServiceError, match=error):
        decisions.decide(claim, decision, staff)
    assert _case(claim).status == "open" and _count(Refund) == 0
    refused = db.session.query(AuditRecord).filter_by(action="claim.decided").one()
    assert (refused.outcome, refused.actor_id) == ("failure", people["support"])
    assert error in json.loads(refused.details)["reason"]


# --- support decides --------------------------------------------------------------------------

def test_support_refunds_in_full(app, people, order, claim, staff):
    case = decisions.decide(claim, Decision("refund_full"), staff)
    done = _case(case.id)
    assert (done.status, done.resolution, done.due_by) == ("resolved", "refund_full", None)
    [refund] = db.session.execute(select(Refund)).scalars()
    assert (refund.amount, refund.case_id, refund.status, refund.requested_by) == (
        4800, claim, "succeeded", "support")
    assert holds(order)["Mug"].status == "refunded"
    assert holds(order)["Candle"].status == "held"
    [decision] = [e for e in queries.timeline(claim, viewer_role="buyer") if e.kind == "decision"]
    assert "Support decided: €48.00 refunded to the buyer in full." == decision.body
    assert case_log.data_of(decision)["refund_id"] == refund.id
    assert db.session.query(AuditRecord).filter_by(action="claim.decided",
                                                   outcome="success").count() == 1
    subjects = [n.subject for n in db.session.execute(select(Notification).where(
        Notification.user_id == people["buyer"])).scalars()]
    assert any(s == f"Claim #{claim}: decided" for s in subjects)


def test_support_splits_refund_and_release(app, people, order, claim, staff):
    decisions.decide(claim, Decision("split", 2000), staff)
    assert _case(claim).resolution == "split"
    mug = holds(order)["Mug"]
    assert (mug.status, mug.refunded_amount, mug.fee_returned) == ("released", 2000, 200)
    assert _available(people["seller"]) == 2800 - 280
    assert ledger.balance(AccountKind.ESCROW, str(people["seller"]), "EUR") == 0


def test_support_lets_the_seller_keep_the_money(app, people, order, claim, staff):
    decisions.decide(claim, Decision("release"), staff)
    assert _case(claim).resolution == "release" and _count(Refund) == 0
    assert holds(order)["Mug"].status == "released"
    assert _available(people["seller"]) == 4320
    # Decided is decided: no second claim on the line, even within the window.
    line_id = holds(order)["Mug"].order_line_id
    assert queries.line_claims(order)[line_id][1] is False
    with pytest.raises(Conflict, match="already decided"):
        claims.open_claim(people["buyer"], line_id, "not_received", "Again.", [], BUYER)


def test_a_partial_refund_keeps_the_rest_frozen_for_support(app, people, order, claim, staff):
    decisions.decide(claim, Decision("refund_partial", 1500), staff)
    mug = holds(order)["Mug"]
    assert (mug.status, mug.remaining) == ("on_hold", 3300)
    assert _available(people["seller"]) == 0
    assert claims.escalate_overdue(now() + timedelta(days=30)) == []


def test_only_staff_decide(app, people, order, claim):
    for who in ("buyer", "seller"):
        actor = Actor(f"{who}@test.example", "127.0.0.1", people[who])
        with pytest.raises(NotFound):
            decisions.decide(claim, Decision("release"), actor)
    with pytest.raises(NotFound):
        decisions.decide(claim, Decision("release"), Actor("anonymous", "127.0.0.1"))
    assert _case(claim).status == "open"


def test_a_closed_claim_has_nothing_left_to_decide(app, people, order, claim, staff):
    claims.withdraw(people["buyer"], claim, BUYER)
    for call in (decisions.decide, lambda c, d, *_: decisions.decision_preview(c, d)):
        with pytest.raises(Conflict, match="withdrawn; there is nothing left to decide"):
            call(claim, Decision("release"), staff)


def test_a_refund_the_psp_refuses_leaves_the_claim_open(app, people, order, claim, staff,
                                                       swap_provider):
    swap_provider(closed_port_url(), timeout=1.0)
    with pytest.raises(ServiceError, match="Nothing was refunded") as refused:
        decisions.decide(claim, Decision("split", 2000), staff)
    assert refused.value.status >= 500
    case = _case(claim)
    assert (case.status, case.resolution) == ("open", None)
    assert holds(order)["Mug"].status == "on_hold" and _available(people["seller"]) == 0
    failed = [e for e in queries.timeline(claim, viewer_role="support") if e.kind == "decision"]
    assert case_log.data_of(failed[-1])["state"] == "failed" and failed[-1].internal
    assert db.session.query(AuditRecord).filter_by(action="claim.decided",
                                                   outcome="failure").count() == 1
    swap_provider(None)
    decisions.decide(claim, Decision("split", 2000), staff)  # the marker is closed: try again
    assert _case(claim).resolution == "split" and _available(people["seller"]) == 2520


# --- two decisions never refund twice ----------------------------------------------------------

def _mark_applying(case_id: int, age: timedelta = timedelta(0)) -> None:
    with unit_of_work():
        event = case_log.log(db.session.get(DisputeCase, case_id), "decision", "support",
                             "Applying a decision.", internal=True, state="applying",
                             token="t0", action="refund_full")
        event.created_at = now() - age


def test_a_decision_being_applied_blocks_another_and_a_withdrawal(app, people, order, claim,
                                                                 staff):
    _mark_applying(claim)
    with pytest.raises(Conflict, match="being applied"):
        decisions.decide(claim, Decision("refund_full"), staff)
    with pytest.raises(Conflict, match="being applied"):
        decisions.accept(people["seller"], claim, "", SELLER)
    with pytest.raises(Conflict, match="applying a decision"):
        claims.withdraw(people["buyer"], claim, BUYER)
    assert _count(Refund) == 0 and _case(claim).status == "open"


def test_a_decision_that_died_after_its_refund_is_finished_without_a_second_refund(
        app, people, order, claim, staff):
    _mark_applying(claim, age=timedelta(hours=1))
    line_id = holds(order)["Mug"].order_line_id
    refunds.request_refund(latest_payment(order).id, lines={line_id: 4800}, reason="claim",
                           actor=staff, by="support", case_id=claim)
    with pytest.raises(Conflict, match="already made on this claim"):
        decisions.decide(claim, Decision("release"), staff)
    with pytest.raises(Conflict, match="applying a decision"):
        claims.withdraw(people["buyer"], claim, BUYER)  # the buyer has their money
    decisions.decide(claim, Decision("refund_full"), staff)
    assert _count(Refund) == 1
    assert (_case(claim).status, _case(claim).resolution) == ("resolved", "refund_full")


# --- the seller accepts -------------------------------------------------------------------------

def test_the_seller_accepting_refunds_the_line(app, people, order, claim):
    claims.contest(people["seller"], claim, "Are you sure?", [], SELLER)
    decisions.accept(people["seller"], claim, "Sorry about that.", SELLER)
    case = _case(claim)
    assert (case.status, case.resolution) == ("resolved", "refund_full")
    [refund] = db.session.execute(select(Refund)).scalars()
    assert (refund.amount, refund.requested_by, refund.case_id) == (4800, "system", claim)
    bodies = [e.body for e in queries.timeline(claim, viewer_role="buyer")]
    assert "Sorry about that." in bodies
    assert "The seller accepted the claim: €48.00 refunded to the buyer in full." in bodies
    with pytest.raises(NotFound):
        decisions.accept(people["other_seller"], claim, "", SELLER)


def test_another_seller_cannot_accept(app, people, order, claim):
    with pytest.raises(NotFound):
        decisions.accept(people["other_seller"], claim, "", SELLER)
    assert _count(Refund) == 0 and _case(claim).status == "open"


def test_accepting_after_release_claws_back_even_past_zero(app, people, order):
    release(holds(order)["Mug"].id)
    add_bank_account(people["seller"])
    payouts.book_payout(people["seller"], "EUR", SUPPORT)
    line_id = holds(order)["Mug"].order_line_id
    case_id = claims.open_claim(people["buyer"], line_id, "not_received", "Lost.", [],
                                BUYER).id
    decisions.accept(people["seller"], case_id, "", SELLER)
    assert _case(case_id).resolution == "refund_full"
    assert _available(people["seller"]) == -4320
