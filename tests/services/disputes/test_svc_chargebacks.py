"""Chargebacks from the sandbox's dispute card to the ledger: opened on held and on released
lines, won, lost by the seller or by the platform; duplicated and reordered events; evidence
before and after the deadline."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.clock import now
from app.domain.ledger import AccountKind
from app.extensions import db
from app.models import (
    AuditRecord,
    DisputeCase,
    EscrowHold,
    LedgerTransaction,
    Notification,
    WebhookEvent,
)
from app.services import webhooks
from app.services.audit import Actor
from app.services.disputes import chargebacks
from app.services.errors import Conflict, NotFound, ServiceError
from app.services.money import escrow, ledger
from tests.flows import (
    add,
    buyer_pays,
    latest_payment,
    login,
    order_and_start,
    psp_call,
    run_jobs,
    settle,
)

SUPPORT = Actor("support@test.example", "127.0.0.1")
DISPUTE_CARD = "pm_card_createDispute"
FEE = 1500  # the sandbox's dispute fee
K = AccountKind


def disputed_order(app, people, stack, psp, items=None, *, release=False) -> int:
    """Buy 2 mugs (seller, 48.00) and a candle (other seller, 16.90) with the dispute card; the
    PSP opens a dispute at capture. `release`: both lines are released before its webhooks."""
    from sandbox_psp.webhooks import deliver_due

    client = app.test_client()
    login(client, "buyer")
    for name, quantity in (items or {"mug": 2, "candle": 1}).items():
        add(client, people[name], quantity)
    order_id, payment = order_and_start(client, "EUR", "hosted")
    buyer_pays(stack["psp_url"], payment.psp_reference, DISPUTE_CARD)
    deliver_due(psp)   # payment_session.authorized only: the dispute does not exist yet
    run_jobs()         # … which captures, and the capture opens the dispute at the PSP
    assert latest_payment(order_id).status == "captured"
    if release:
        for hold in holds(order_id):
            escrow.support_decide(hold.id, "release", SUPPORT)
    settle(psp)
    return order_id


def holds(order_id: int) -> list[EscrowHold]:
    db.session.expire_all()
    return list(db.session.execute(select(EscrowHold).where(EscrowHold.order_id == order_id)
                                   .order_by(EscrowHold.id)).scalars())


def case_of(order_id: int) -> DisputeCase:
    db.session.expire_all()
    return db.session.execute(select(DisputeCase).where(
        DisputeCase.order_id == order_id)).scalar_one()


def close_at_psp(stack, psp, case: DisputeCase, outcome: str, deliver: bool = True) -> None:
    """The issuer's decision through the sandbox's test helper; then its webhook is applied."""
    response = psp_call(stack["psp_url"], "POST",
                        f"/v1/test_helpers/disputes/{case.psp_reference}/close",
                        {"outcome": outcome})
    assert response.status_code == 200, response.text
    if deliver:
        settle(psp)


def bal(kind: AccountKind, owner: object = "") -> int:
    return ledger.balance(kind, str(owner), "EUR")


def intents(case: DisputeCase) -> list[str]:
    return sorted(db.session.execute(select(LedgerTransaction.intent).where(
        LedgerTransaction.intent.like(f"dispute_%:sandbox:{case.psp_reference}"))).scalars())


def test_dispute_on_held_lines_reserves_money_and_freezes_escrow(app, people, stack, psp):
    order_id = disputed_order(app, people, stack, psp)
    case = case_of(order_id)
    payment = latest_payment(order_id)
    assert (case.kind, case.status, case.amount, case.fee_amount) == ("chargeback",
                                                                       "needs_response", 6490, FEE)
    assert case.reason == "fraudulent" and case.seller_id is None
    assert now() + timedelta(days=6) < case.due_by <= now() + timedelta(days=7)
    assert payment.status == "disputed"
    assert [h.status for h in holds(order_id)] == ["on_hold", "on_hold"]
    assert bal(K.DISPUTE_RESERVE, "sandbox") == 6490 + FEE
    assert bal(K.PSP_CLEARING, "sandbox") == 6490 - payment.psp_fee_amount - 6490 - FEE
    # Nothing was released, so no seller balance moved: escrow still holds both lines.
    assert bal(K.ESCROW, people["seller"]) == 4800 and bal(K.SELLER_RESERVED, people["seller"]) == 0
    kinds = [e.kind for e in case.events]
    assert kinds[:4] == ["psp_event", "status", "ledger", "notification"]
    told = set(db.session.execute(select(Notification.user_id).where(
        Notification.kind == "chargeback_opened")).scalars())
    assert told == {people["buyer"], people["seller"], people["other_seller"], people["support"]}
    assert db.session.execute(select(AuditRecord).where(
        AuditRecord.action == "chargeback.opened", AuditRecord.target == f"case:{case.id}")
    ).scalar_one()


def test_dispute_on_released_lines_claws_net_shares_into_reserved(app, people, stack, psp):
    order_id = disputed_order(app, people, stack, psp, release=True)
    assert [h.status for h in holds(order_id)] == ["released", "released"]
    seller, other = people["seller"], people["other_seller"]
    assert bal(K.SELLER_AVAILABLE, seller) == 0 and bal(K.SELLER_RESERVED, seller) == 4800 - 480
    assert bal(K.SELLER_AVAILABLE, other) == 0 and bal(K.SELLER_RESERVED, other) == 1690 - 169
    assert bal(K.DISPUTE_RESERVE, "sandbox") == 6490 + FEE
    assert bal(K.PLATFORM_FEES) == 480 + 169  # untouched until the outcome


def test_won_returns_the_reserve_and_fee_and_unfreezes(app, people, stack, psp):
    order_id = disputed_order(app, people, stack, psp)
    clearing_before = bal(K.PSP_CLEARING, "sandbox") + 6490 + FEE
    close_at_psp(stack, psp, case_of(order_id), "won")
    case = case_of(order_id)
    assert (case.status, case.resolution, case.liable) == ("won", "won", None)
    assert case.resolved_at is not None
    assert bal(K.DISPUTE_RESERVE, "sandbox") == 0
    assert bal(K.PSP_CLEARING, "sandbox") == clearing_before  # the sandbox returns its fee
    assert [h.status for h in holds(order_id)] == ["held", "held"]
    assert latest_payment(order_id).status == "captured"
    assert intents(case) == [f"dispute_opened:sandbox:{case.psp_reference}",
                             f"dispute_won:sandbox:{case.psp_reference}"]


def test_won_after_release_gives_sellers_their_available_balance_back(app, people, stack, psp):
    order_id = disputed_order(app, people, stack, psp, release=True)
    close_at_psp(stack, psp, case_of(order_id), "won")
    assert bal(K.SELLER_AVAILABLE, people["seller"]) == 4320
    assert bal(K.SELLER_RESERVED, people["seller"]) == 0
    assert bal(K.SELLER_AVAILABLE, people["other_seller"]) == 1521


def test_lost_seller_liable_takes_held_lines_out_of_escrow(app, people, stack, psp):
    order_id = disputed_order(app, people, stack, psp)
    payment = latest_payment(order_id)
    close_at_psp(stack, psp, case_of(order_id), "lost")
    case = case_of(order_id)
    assert (case.status, case.resolution, case.liable) == ("lost", "lost", "seller")
    assert bal(K.ESCROW, people["seller"]) == 0 and bal(K.ESCROW, people["other_seller"]) == 0
    assert bal(K.DISPUTE_RESERVE, "sandbox") == 0
    assert bal(K.PSP_FEES) == payment.psp_fee_amount + FEE  # the platform bears the PSP fee
    assert bal(K.PLATFORM_FEES) == 0 and bal(K.DISPUTE_LOSSES) == 0
    lines = holds(order_id)
    assert [(h.status, h.refunded_amount) for h in lines] == [("refunded", 4800),
                                                             ("refunded", 1690)]
    assert latest_payment(order_id).status == "refunded"
    assert db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.kind == "chargeback_lost")) == 4


def test_lost_seller_liable_after_release_keeps_reserved_and_returns_fee(app, people, stack,
                                                                         psp):
    order_id = disputed_order(app, people, stack, psp, release=True)
    close_at_psp(stack, psp, case_of(order_id), "lost")
    seller, other = people["seller"], people["other_seller"]
    assert bal(K.SELLER_RESERVED, seller) == 0 and bal(K.SELLER_AVAILABLE, seller) == 0
    assert bal(K.SELLER_RESERVED, other) == 0 and bal(K.SELLER_AVAILABLE, other) == 0
    assert bal(K.PLATFORM_FEES) == 0  # no commission on money the buyer got back
    assert bal(K.DISPUTE_LOSSES) == 0


def test_lost_platform_liable_books_a_loss_and_lets_escrow_go_on(app, people, stack, psp):
    order_id = disputed_order(app, people, stack, psp)
    case = case_of(order_id)
    support = Actor("support@test.example", "127.0.0.1", people["support"])
    chargebacks.mark_liable(case.id, "platform", "Proven delivery to the card's address.",
                            support)
    close_at_psp(stack, psp, case, "lost")
    case = case_of(order_id)
    assert (case.status, case.liable) == ("lost", "platform")
    assert bal(K.DISPUTE_LOSSES) == 6490
    assert bal(K.ESCROW, people["seller"]) == 4800  # the seller keeps the sale
    assert [h.status for h in holds(order_id)] == ["held", "held"]
    assert bal(K.DISPUTE_RESERVE, "sandbox") == 0
    note = next(e for e in case.events if e.kind == "decision")
    assert note.internal and "Proven delivery" in note.body


def test_lost_platform_liable_after_release_unfreezes_sellers(app, people, stack, psp):
    order_id = disputed_order(app, people, stack, psp, release=True)
    case = case_of(order_id)
    chargebacks.mark_liable(case.id, "platform", "Our fraud screen let it through.",
                            Actor("support@test.example", "127.0.0.1", people["support"]))
    close_at_psp(stack, psp, case, "lost")
    assert bal(K.SELLER_AVAILABLE, people["seller"]) == 4320
    assert bal(K.SELLER_RESERVED, people["seller"]) == 0
    assert bal(K.DISPUTE_LOSSES) == 6490


def test_liability_is_support_only_and_only_while_open(app, people, stack, psp):
    order_id = disputed_order(app, people, stack, psp)
    case = case_of(order_id)
    seller = Actor("seller@test.example", "127.0.0.1", people["seller"])
    with pytest.raises(NotFound):
        chargebacks.mark_liable(case.id, "platform", "I say so", seller)
    with pytest.raises(ServiceError):
        chargebacks.mark_liable(case.id, "buyer", "nobody", SUPPORT)
    close_at_psp(stack, psp, case, "won")
    with pytest.raises(Conflict, match="already won"):
        chargebacks.mark_liable(case.id, "platform", "too late",
                                Actor("support@test.example", "127.0.0.1", people["support"]))


def _inbox(event_type: str, dispute_id: str, n: int) -> int:
    row = WebhookEvent(provider="sandbox", event_id=f"evt_handmade_{n}", event_type=event_type,
                       object_id=dispute_id, payload=json.dumps({"id": f"evt_handmade_{n}"}))
    db.session.add(row)
    db.session.commit()
    return row.id


def test_closed_before_created_ends_right_and_duplicates_change_nothing(app, people, stack,
                                                                        psp):
    from sandbox_psp.webhooks import deliver_due

    client = app.test_client()
    login(client, "buyer")
    add(client, people["mug"], 1)
    order_id, payment = order_and_start(client, "EUR", "hosted")
    buyer_pays(stack["psp_url"], payment.psp_reference, DISPUTE_CARD)
    deliver_due(psp)
    run_jobs()
    disputes = psp_call(stack["psp_url"], "GET",
                        f"/v1/disputes?payment_session={payment.psp_reference}").json()["data"]
    dispute_id = disputes[0]["id"]
    psp_call(stack["psp_url"], "POST", f"/v1/test_helpers/disputes/{dispute_id}/close",
             {"outcome": "lost"})
    # The closing event is processed first, then the opening one, then a duplicate of each.
    for n, kind in enumerate(["dispute.closed", "dispute.created", "dispute.closed",
                              "dispute.updated"]):
        webhooks.process(_inbox(kind, dispute_id, n))
    settle(psp)  # the sandbox's own deliveries of the same events, once more
    case = case_of(order_id)
    assert (case.status, case.liable) == ("lost", "seller")
    assert intents(case) == [f"dispute_lost:sandbox:{dispute_id}",
                             f"dispute_opened:sandbox:{dispute_id}"]
    assert bal(K.ESCROW, people["seller"]) == 0 and bal(K.DISPUTE_RESERVE, "sandbox") == 0
    events = [e for e in case.events if e.kind == "psp_event"]
    assert len(events) >= 4  # every PSP event is on the timeline, even the no-op ones
    assert [e.kind for e in case.events].count("status") == 2  # opened, then lost: once each
    assert db.session.scalar(select(func.count()).select_from(DisputeCase)) == 1


def test_evidence_before_the_deadline_goes_to_the_psp(app, people, stack, psp):
    order_id = disputed_order(app, people, stack, psp, {"mug": 1})
    case = case_of(order_id)
    seller = Actor("seller@test.example", "127.0.0.1", people["seller"])
    chargebacks.submit_evidence(case.id, {"shipping_carrier": "DHL",
                                          "shipping_tracking_number": "JD0142",
                                          "product_description": " "}, seller)
    case = case_of(order_id)
    assert case.status == "under_review"
    dispute = psp_call(stack["psp_url"], "GET", f"/v1/disputes/{case.psp_reference}").json()
    assert dispute["evidence"]["shipping_tracking_number"] == "JD0142"
    assert "product_description" not in dispute["evidence"]  # blank fields are not sent
    message = [e for e in case.events if e.kind == "message"][-1]
    assert (message.actor_role, message.actor_id, message.internal) == ("seller",
                                                                       people["seller"], False)
    assert "JD0142" in message.body
    with pytest.raises(Conflict, match="under_review"):
        chargebacks.submit_evidence(case.id, {"uncategorized_text": "more"}, seller)


def test_evidence_after_the_deadline_is_refused_before_the_psp(app, people, stack, psp):
    order_id = disputed_order(app, people, stack, psp, {"mug": 1})
    case = case_of(order_id)
    case.due_by = now() - timedelta(minutes=1)
    db.session.commit()
    support = Actor("support@test.example", "127.0.0.1", people["support"])
    with pytest.raises(Conflict, match="deadline for evidence passed"):
        chargebacks.submit_evidence(case.id, {"uncategorized_text": "Delivered."}, support)
    dispute = psp_call(stack["psp_url"], "GET", f"/v1/disputes/{case.psp_reference}").json()
    assert dispute["evidence"] == {} and dispute["status"] == "needs_response"
    assert db.session.execute(select(AuditRecord).where(
        AuditRecord.action == "chargeback.evidence_submitted",
        AuditRecord.outcome == "failure")).scalar_one()


def test_evidence_only_from_support_or_the_orders_seller(app, people, stack, psp):
    order_id = disputed_order(app, people, stack, psp, {"mug": 1})
    case = case_of(order_id)
    for who in ("other_seller", "buyer"):
        with pytest.raises(NotFound):
            chargebacks.submit_evidence(case.id, {"uncategorized_text": "x"},
                                        Actor(f"{who}@test.example", "127.0.0.1", people[who]))
    with pytest.raises(ServiceError, match="known ones"):
        chargebacks.submit_evidence(case.id, {"password": "x"},
                                    Actor("seller@test.example", "127.0.0.1", people["seller"]))
    assert case_of(order_id).status == "needs_response"


def test_a_late_payment_report_leaves_a_disputed_payment_disputed(app, people, stack, psp):
    order_id = disputed_order(app, people, stack, psp, {"mug": 1})
    payment = latest_payment(order_id)
    case = case_of(order_id)
    # payment_session.captured processed after dispute.created: the table allows DISPUTED →
    # CAPTURED (the "won" move), but a payment report says nothing about the dispute.
    row = WebhookEvent(provider="sandbox", event_id="evt_late_capture",
                       event_type="payment_session.captured", object_id=payment.psp_reference,
                       payload=json.dumps({"id": "evt_late_capture"}))
    db.session.add(row)
    db.session.commit()
    outcome = webhooks.process(row.id)
    assert (outcome.result, latest_payment(order_id).status) == ("stale", "disputed")
    webhooks.process(_inbox("dispute.updated", case.psp_reference, 1))
    assert latest_payment(order_id).status == "disputed"
    close_at_psp(stack, psp, case, "lost")
    assert latest_payment(order_id).status == "refunded"
