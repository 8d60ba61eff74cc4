"""The platform's money flows end to end on Stripe (the in-repo fake): a paid and captured
order, refunds by support and by the seller, chargebacks won and lost — all through the
services and the webhook inbox, with the fake's own signed events as Stripe would send them."""
from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.clock import now
from app.domain.ledger import AccountKind
from app.extensions import db
from app.models import DisputeCase, Payment, WebhookEvent
from app.models.refunds import Refund
from app.services import webhooks
from app.services.audit import Actor
from app.services.disputes import chargebacks
from app.services.errors import Conflict
from app.services.payments import actions
from app.services.refunds import refunds
from tests.fakes.stripe import FakeStripe, sign
from tests.fakes.stripe.checkout import DISPUTE_ON_CAPTURE
from tests.fakes.stripe.controls import close, dispute, pay_session
from tests.fakes.stripe.state import DISPUTE_FEE, charge_fee
from tests.fakes.stripe.wiring import stripe_on
from tests.flows import run_jobs
from tests.services.money.psp_money_steps import (
    EVIDENCE,
    SUPPORT,
    TOTAL,
    bal,
    case_of,
    dispute_intents,
    fresh,
    holds,
    postings,
    start_order,
    support_actor,
)

K = AccountKind
API_KEY, WEBHOOK_SECRET = "sk_test_money_suite", "whsec_money_suite"


@pytest.fixture
def stripe_fake(app, tmp_path):
    """A fake Stripe the platform routes every payment to, for one test."""
    with stripe_on(app, API_KEY, WEBHOOK_SECRET, routing_dir=tmp_path) as fake:
        fake.delivered = 0  # how many of fake.events the platform has been sent
        yield fake


def send(event: dict) -> dict:
    """One event as Stripe POSTs it: signed raw bytes through the inbox; the receipt body."""
    raw = json.dumps(event).encode()
    receipt = webhooks.receive("stripe", raw, {
        "Stripe-Signature": sign(WEBHOOK_SECRET, raw, int(time.time()))})
    assert receipt.status == 200, receipt.body
    return receipt.body


def deliver(fake: FakeStripe) -> list[dict]:
    """Send every event the fake emitted since the last call, then run the jobs they cause
    (processing, capture) until nothing is left; the events sent."""
    sent = []
    for _ in range(10):
        new = fake.events[fake.delivered:]
        fake.delivered = len(fake.events)
        for event in new:
            send(event)
        sent += new
        if not new and not run_jobs():
            return sent
        run_jobs()
    raise AssertionError("events and jobs did not settle")


def paid(people, fake: FakeStripe) -> Payment:
    """Two mugs and a candle paid on Stripe's hosted page, then captured."""
    payment_id = start_order(people, "hosted")
    assert pay_session(fake, db.session.get(Payment, payment_id).psp_reference) is None
    deliver(fake)  # amount_capturable_updated → authorized → the capture job → succeeded
    return fresh(payment_id)


def intent_of(fake: FakeStripe, payment: Payment) -> dict:
    return fake.objects[fake.objects[payment.psp_reference]["payment_intent"]]


def test_a_paid_order_is_captured_on_stripe_into_escrow(app, people, stripe_fake):
    payment = paid(people, stripe_fake)
    fee = charge_fee(TOTAL)
    assert (payment.provider, payment.status, payment.amount_captured) == ("stripe", "captured",
                                                                          TOTAL)
    assert payment.psp_fee_amount == fee and payment.order.status == "paid"
    assert intent_of(stripe_fake, payment)["status"] == "succeeded"
    assert stripe_fake.executions(payment.idempotency_key) == 1
    by_seller = holds(payment)
    assert {s: (h.gross_amount, h.status) for s, h in by_seller.items()} == {
        people["seller"]: (4800, "held"), people["other_seller"]: (1690, "held")}
    [capture] = postings("capture")
    assert capture.payment_id == payment.id
    assert bal(K.PSP_CLEARING, "stripe") == TOTAL - fee and bal(K.PSP_FEES) == fee
    assert bal(K.ESCROW, people["seller"]) == 4800
    assert bal(K.ESCROW, people["other_seller"]) == 1690
    # Every event of the payment was stored once and handled (processed or ignored).
    statuses = set(db.session.execute(select(WebhookEvent.status)).scalars())
    assert statuses <= {"processed", "ignored"}


def test_refunds_by_support_and_by_the_seller_reach_stripe_once_and_settle_once(
        app, people, stripe_fake):
    payment = paid(people, stripe_fake)
    by_seller = holds(payment)
    clearing = bal(K.PSP_CLEARING, "stripe")
    mug, candle = by_seller[people["seller"]], by_seller[people["other_seller"]]

    # Support refunds part of the mugs' line.
    part = refunds.request_refund(payment.id, lines={mug.order_line_id: 1000},
                                  reason="scratched", actor=SUPPORT, by="support")
    # The other seller refunds their whole line.
    seller = Actor("other_seller@test.example", "127.0.0.1", people["other_seller"])
    whole = refunds.request_refund(payment.id, lines={candle.order_line_id: 1690},
                                   reason="out of stock", actor=seller, by="seller")
    for refund in (part, whole):
        assert refund.status == "succeeded" and refund.psp_reference.startswith("re_")
        assert stripe_fake.executions(refund.idempotency_key) == 1
    refunded_at_stripe = {r["id"]: r["amount"] for r in stripe_fake.of_kind("refund")}
    assert refunded_at_stripe == {part.psp_reference: 1000, whole.psp_reference: 1690}

    # Stripe's refund events (refund.created, charge.refunded) and a later refund.updated and
    # charge.refund.updated for each: the refund is settled already; nothing moves twice.
    sent = deliver(stripe_fake)
    assert {e["type"] for e in sent} == {"refund.created", "charge.refunded"}
    for refund in (part, whole):
        obj = stripe_fake.objects[refund.psp_reference]
        for kind in ("refund.updated", "charge.refund.updated"):
            stripe_fake.emit(kind, obj)
    deliver(stripe_fake)
    rows = db.session.execute(select(WebhookEvent).where(
        WebhookEvent.event_type.in_(["refund.created", "refund.updated",
                                     "charge.refund.updated"]))).scalars().all()
    assert len(rows) == 6 and {r.status for r in rows} == {"processed"}
    assert {r.outcome for r in rows} == {f"refund {part.id}: unchanged",
                                         f"refund {whole.id}: unchanged"}

    # A payment event Stripe retries now (the intent is "succeeded", refunds aside) may not
    # undo the refunds' status.
    send(stripe_fake.events_of("payment_intent.succeeded")[0] | {"id": "evt_retried_late"})
    run_jobs()
    payment = fresh(payment.id)
    assert (payment.status, payment.amount_refunded) == ("partially_refunded", 2690)
    assert len(postings("refund")) == 2
    mug, candle = holds(payment)[people["seller"]], holds(payment)[people["other_seller"]]
    assert (mug.refunded_amount, mug.fee_returned, mug.status) == (1000, 100, "held")
    assert (candle.refunded_amount, candle.status) == (1690, "refunded")
    assert bal(K.ESCROW, people["seller"]) == 3800
    assert bal(K.ESCROW, people["other_seller"]) == 0
    assert bal(K.PSP_CLEARING, "stripe") == clearing - 2690
    assert not payment.needs_review


def test_the_rest_of_a_payment_is_refunded_in_full_after_a_partial_one(app, people,
                                                                       stripe_fake):
    payment = paid(people, stripe_fake)
    refunds.request_refund(payment.id, amount=500, reason="late", actor=SUPPORT, by="support")
    rest = refunds.request_refund(payment.id, reason="cancelled", actor=SUPPORT, by="support")
    deliver(stripe_fake)
    assert rest.amount == TOTAL - 500 and rest.status == "succeeded"
    payment = fresh(payment.id)
    assert (payment.status, payment.amount_refunded) == ("refunded", TOTAL)
    charge = stripe_fake.objects[intent_of(stripe_fake, payment)["latest_charge"]]
    assert (charge["amount_refunded"], charge["refunded"]) == (TOTAL, True)
    assert bal(K.ESCROW, people["seller"]) == 0 and bal(K.ESCROW, people["other_seller"]) == 0


def test_a_refund_whose_answer_is_lost_is_made_once_and_settled_once(app, people,
                                                                    stripe_fake):
    payment = paid(people, stripe_fake)
    # Stripe refunds, then answers 500; every retry's first read fails too: we never learn
    # the refund's id, so it stays PENDING.
    stripe_fake.fail_next("5xx_after")
    for _ in range(app.config["PSP_RETRY_ATTEMPTS"] - 1):
        stripe_fake.fail_next("5xx_before", "GET")
    refund = refunds.request_refund(payment.id, amount=1000, reason="late", actor=SUPPORT,
                                    by="support")
    assert (refund.status, refund.psp_reference) == ("pending", None)
    assert stripe_fake.executions(refund.idempotency_key) == 1
    # Stripe's refund.created beats us to it: it cannot be matched yet, so it fails (RQ
    # retries it) rather than being booked as a refund made outside the platform.
    deliver(stripe_fake)
    inbox = db.session.execute(select(WebhookEvent).where(
        WebhookEvent.event_type == "refund.created")).scalar_one()
    assert inbox.status == "failed" and "RefundNotYetKnown" in inbox.last_error
    assert fresh(payment.id).amount_refunded == 0 and not fresh(payment.id).needs_review
    # The settle job repeats the request with the same key: the refund is found, not re-made.
    refund = refunds.refresh(refund.id, Actor("system:refund-settler", "worker"))
    assert refund.status == "succeeded" and refund.psp_reference.startswith("re_")
    assert stripe_fake.executions(refund.idempotency_key) == 1
    assert len(stripe_fake.of_kind("refund")) == 1
    # RQ's retry of the event now finds the refund settled: nothing moves twice.
    webhooks.process(inbox.id)
    db.session.expire_all()
    assert db.session.get(WebhookEvent, inbox.id).status == "processed"
    payment = fresh(payment.id)
    assert (payment.status, payment.amount_refunded) == ("partially_refunded", 1000)
    assert len(postings("refund")) == 1 and not payment.needs_review


def test_a_late_refund_failure_reverses_the_refund_once(app, people, stripe_fake):
    payment = paid(people, stripe_fake)
    refund = refunds.request_refund(payment.id, amount=1000, reason="late", actor=SUPPORT,
                                    by="support")
    deliver(stripe_fake)
    clearing = bal(K.PSP_CLEARING, "stripe")
    # The card's bank refuses the money days later: Stripe fails the refund and says so twice.
    obj = stripe_fake.objects[refund.psp_reference]
    obj.update(status="failed", failure_reason="expired_or_canceled_card")
    failed = stripe_fake.emit("refund.failed", obj)
    stripe_fake.emit("charge.refund.updated", obj)
    deliver(stripe_fake)
    assert send(failed) == {"received": True, "duplicate": True}
    db.session.expire_all()
    refund = db.session.get(Refund, refund.id)
    assert (refund.status, refund.failure_reason) == ("reversed", "expired_or_canceled_card")
    payment = fresh(payment.id)
    assert (payment.status, payment.amount_refunded, payment.needs_review) == (
        "captured", 0, True)
    assert len(postings("refund_reversed")) == 1
    assert bal(K.PSP_CLEARING, "stripe") == clearing + 1000
    assert bal(K.ESCROW, people["seller"]) + bal(K.ESCROW, people["other_seller"]) == TOTAL


# --- chargebacks ----------------------------------------------------------------------------

def disputed(people, fake: FakeStripe) -> tuple[Payment, DisputeCase]:
    """A captured order whose charge the bank disputes; the case the webhooks opened."""
    payment = paid(people, fake)
    dispute(fake, intent_of(fake, payment)["id"], reason="product_not_received")
    sent = deliver(fake)
    assert [e["type"] for e in sent] == ["charge.dispute.created",
                                         "charge.dispute.funds_withdrawn"]
    return fresh(payment.id), case_of(payment)




def test_a_stripe_dispute_opens_a_chargeback_with_its_reason_fee_and_deadline(
        app, people, stripe_fake):
    payment, case = disputed(people, stripe_fake)
    at_stripe = stripe_fake.objects[case.psp_reference]
    assert (case.kind, case.status, case.provider) == ("chargeback", "needs_response", "stripe")
    assert (case.reason, case.amount, case.fee_amount, case.currency) == (
        "product_not_received", TOTAL, DISPUTE_FEE, "EUR")
    assert case.due_by == datetime.fromtimestamp(
        at_stripe["evidence_details"]["due_by"], UTC).replace(tzinfo=None)
    assert now() + timedelta(days=6) < case.due_by <= now() + timedelta(days=7)
    assert payment.status == "disputed"
    assert {h.status for h in holds(payment).values()} == {"on_hold"}
    # dispute_opened: Stripe withdrew the amount and its fee from our balance.
    assert dispute_intents(case) == [f"dispute_opened:stripe:{case.psp_reference}"]
    assert bal(K.DISPUTE_RESERVE, "stripe") == TOTAL + DISPUTE_FEE
    assert bal(K.PSP_CLEARING, "stripe") == -charge_fee(TOTAL) - DISPUTE_FEE
    assert bal(K.ESCROW, people["seller"]) == 4800  # frozen in escrow, not moved


def _submit_evidence(people, case: DisputeCase, fake: FakeStripe) -> None:
    chargebacks.submit_evidence(case.id, EVIDENCE, support_actor(people))
    at_stripe = fake.objects[case.psp_reference]
    assert at_stripe["evidence"]["shipping_tracking_number"] == "TRACK-123"
    assert at_stripe["evidence"]["uncategorized_text"] == "Signed for at the door."
    assert at_stripe["status"] == "under_review"
    assert at_stripe["evidence_details"]["submission_count"] == 1
    assert case_of(db.session.get(Payment, case.payment_id)).status == "under_review"


def test_a_won_stripe_dispute_returns_the_funds_and_the_fee(app, people, stripe_fake):
    payment, case = disputed(people, stripe_fake)
    clearing = bal(K.PSP_CLEARING, "stripe")
    fees = bal(K.PSP_FEES)
    _submit_evidence(people, case, stripe_fake)
    deliver(stripe_fake)  # charge.dispute.updated: already under review
    close(stripe_fake, case.psp_reference, "won")
    sent = deliver(stripe_fake)
    assert [e["type"] for e in sent] == ["charge.dispute.funds_reinstated",
                                         "charge.dispute.closed"]
    case = case_of(payment)
    assert (case.status, case.resolution, case.liable) == ("won", "won", None)
    # Stripe returns its dispute fee on a win: all of it is back in clearing.
    assert bal(K.PSP_CLEARING, "stripe") == clearing + TOTAL + DISPUTE_FEE
    assert bal(K.PSP_FEES) == fees and bal(K.DISPUTE_RESERVE, "stripe") == 0
    assert {h.status for h in holds(payment).values()} == {"held"}
    assert fresh(payment.id).status == "captured"
    assert dispute_intents(case) == [f"dispute_opened:stripe:{case.psp_reference}",
                             f"dispute_won:stripe:{case.psp_reference}"]


def test_a_lost_stripe_dispute_is_the_sellers_and_the_fee_the_platforms(app, people,
                                                                        stripe_fake):
    payment, case = disputed(people, stripe_fake)
    fees = bal(K.PSP_FEES)
    _submit_evidence(people, case, stripe_fake)
    close(stripe_fake, case.psp_reference, "lost")
    deliver(stripe_fake)
    case = case_of(payment)
    assert (case.status, case.resolution, case.liable) == ("lost", "lost", "seller")
    assert bal(K.ESCROW, people["seller"]) == 0 and bal(K.ESCROW, people["other_seller"]) == 0
    assert bal(K.DISPUTE_RESERVE, "stripe") == 0 and bal(K.DISPUTE_LOSSES) == 0
    assert bal(K.PSP_FEES) == fees + DISPUTE_FEE
    assert bal(K.PLATFORM_FEES) == 0
    assert {(h.status, h.refunded_amount) for h in holds(payment).values()} == {
        ("refunded", 4800), ("refunded", 1690)}
    assert fresh(payment.id).status == "refunded"
    assert dispute_intents(case) == [f"dispute_lost:stripe:{case.psp_reference}",
                             f"dispute_opened:stripe:{case.psp_reference}"]


def test_a_dispute_that_beats_the_capture_answer_captures_first_then_reserves(
        app, people, stripe_fake):
    payment_id = start_order(people, "hosted")
    session = db.session.get(Payment, payment_id).psp_reference
    pay_session(stripe_fake, session, card=DISPUTE_ON_CAPTURE)
    for event in list(stripe_fake.events):  # the authorization's events
        send(event)
    # The capture job: Stripe captures (and the bank disputes at once), but its answer and
    # every retry's first read fail; the job is left for RQ to retry later.
    stripe_fake.fail_next("5xx_after")
    for _ in range(app.config["PSP_RETRY_ATTEMPTS"] - 1):
        stripe_fake.fail_next("5xx_before", "GET")
    run_jobs()
    assert fresh(payment_id).status == "authorized"
    # The dispute's events arrive before the capture's: the payment is brought forward first.
    for kind in ("charge.dispute.created", "charge.dispute.funds_withdrawn"):
        send(stripe_fake.events_of(kind)[0])
    run_jobs()
    payment = fresh(payment_id)
    case = case_of(payment)
    assert (payment.status, payment.amount_captured) == ("disputed", TOTAL)
    assert len(postings("capture")) == 1
    assert (case.amount, case.fee_amount, case.status) == (TOTAL, DISPUTE_FEE, "needs_response")
    assert {h.status for h in holds(payment).values()} == {"on_hold"}
    assert bal(K.DISPUTE_RESERVE, "stripe") == TOTAL + DISPUTE_FEE
    # The late capture events and RQ's retry of the capture change nothing.
    for kind in ("charge.captured", "payment_intent.succeeded"):
        send(stripe_fake.events_of(kind)[0])
    run_jobs()
    assert actions.capture(payment_id, SUPPORT).result == "unchanged"
    assert stripe_fake.executions(f"{payment.idempotency_key}:capture") == 1
    assert fresh(payment_id).status == "disputed" and len(postings("capture")) == 1


def test_evidence_for_a_dispute_stripe_closed_already_is_refused_not_retried(app, people,
                                                                            stripe_fake):
    payment, case = disputed(people, stripe_fake)
    close(stripe_fake, case.psp_reference, "lost")  # its webhook is not in yet
    with pytest.raises(Conflict, match="refused this evidence"):
        chargebacks.submit_evidence(case.id, EVIDENCE, support_actor(people))
    assert stripe_fake.objects[case.psp_reference]["evidence"]["uncategorized_text"] is None
    deliver(stripe_fake)
    assert case_of(payment).status == "lost"


def test_duplicate_and_reordered_stripe_events_change_nothing(app, people, stripe_fake):
    payment = paid(people, stripe_fake)
    dispute_id = dispute(stripe_fake, intent_of(stripe_fake, payment)["id"])
    close(stripe_fake, dispute_id, "lost")
    opened, withdrawn, closed = (stripe_fake.events_of(t)[0] for t in (
        "charge.dispute.created", "charge.dispute.funds_withdrawn", "charge.dispute.closed"))
    stripe_fake.delivered = len(stripe_fake.events)
    # The closing event first, then the opening ones, then Stripe's retries of each.
    for event in (closed, opened, withdrawn):
        send(event)
    run_jobs()
    for event in (closed, opened, withdrawn):
        assert send(event) == {"received": True, "duplicate": True}
    # A payment event that arrives after the dispute: it may not undo the chargeback.
    send(stripe_fake.events_of("payment_intent.succeeded")[0] | {"id": "evt_late_retry"})
    run_jobs()
    case = case_of(payment)
    assert (case.status, case.liable) == ("lost", "seller")
    assert dispute_intents(case) == [f"dispute_lost:stripe:{dispute_id}",
                             f"dispute_opened:stripe:{dispute_id}"]
    assert db.session.scalar(select(func.count()).select_from(DisputeCase)) == 1
    assert [e.kind for e in case.events].count("status") == 2
    assert fresh(payment.id).status == "refunded"
    assert bal(K.DISPUTE_RESERVE, "stripe") == 0 and bal(K.ESCROW, people["seller"]) == 0
