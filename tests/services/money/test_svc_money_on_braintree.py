"""The platform's money flows end to end on Braintree (the in-repo fake): a Drop-in payment
captured into escrow, refunds by support and by the seller (and the documented refusal before
settlement), chargebacks won and lost — through the services and the webhook inbox, with
notifications signed by the fake merchant's keys as Braintree would POST them."""
from __future__ import annotations

import itertools
import re
from base64 import decodebytes, encodebytes
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlencode

import pytest
from braintree.util.crypto import Crypto
from sqlalchemy import func, select

from app.domain.ledger import AccountKind
from app.extensions import db
from app.models import DisputeCase, Payment, WebhookEvent
from app.models.refunds import Refund
from app.services import webhooks
from app.services.audit import Actor
from app.services.checkout import nonces
from app.services.disputes import chargebacks
from app.services.errors import Conflict
from app.services.refunds import refunds
from tests.fakes.braintree.state import utc_now
from tests.fakes.braintree.wiring import braintree_on
from tests.flows import route_all_to, run_jobs
from tests.services.money.psp_money_steps import (
    BUYER,
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
DISPUTE_FEE = 1500       # BRAINTREE_DISPUTE_FEE's default: Braintree's API does not state it
STAMP = "%Y-%m-%dT%H:%M:%SZ"
SECONDS = itertools.count(1)


@pytest.fixture
def fake(app, serve_wsgi, tmp_path):
    """A fake Braintree gateway the platform routes every payment to, for one test."""
    saved = app.config.get("ROUTING_FILE")
    app.config["ROUTING_FILE"] = str(route_all_to("braintree", tmp_path))
    try:
        with braintree_on(app, serve_wsgi) as (gateway, _url):
            yield gateway
    finally:
        app.config["ROUTING_FILE"] = saved


def notify(gateway, kind: str, subject_id: str) -> tuple[bytes, dict]:
    """A new signed notification POSTed to the inbox, then the jobs it causes; (body, receipt).

    Braintree's event id is kind + subject + the notification's timestamp (to the second), so
    each new notification is stamped a second after the last: two sent within one second would
    otherwise be taken for the same one."""
    raw = restamped(gateway, gateway.notification(kind, subject_id), next(SECONDS))
    return raw, post(raw)


def restamped(gateway, raw: bytes, seconds: int) -> bytes:
    """A notification form body with its timestamp moved `seconds` on, signed again."""
    payload = decodebytes(parse_qs(raw.decode())["bt_payload"][0].encode()).decode()
    found = re.search(r'<timestamp type="datetime">([^<]+)</timestamp>', payload)
    stamp = datetime.strptime(found.group(1), STAMP) + timedelta(seconds=seconds)
    payload = payload.replace(found.group(0), f'<timestamp type="datetime">'
                              f'{stamp.strftime(STAMP)}</timestamp>', 1)
    encoded = encodebytes(payload.encode())
    signature = f"{gateway.public_key}|{Crypto.sha1_hmac_hash(gateway.private_key, encoded)}"
    return urlencode({"bt_signature": signature, "bt_payload": encoded.decode()}).encode()


def post(raw: bytes) -> dict:
    receipt = webhooks.receive("braintree", raw, {
        "Content-Type": "application/x-www-form-urlencoded"})
    assert receipt.status == 200, receipt.body
    run_jobs()
    return receipt.body


def paid(people, gateway, nonce: str = "fake-valid-visa-nonce") -> Payment:
    """Two mugs and a candle paid with a Drop-in nonce, captured, and the sale's settlement
    notified."""
    payment_id = start_order(people, "embedded")
    order_id = db.session.get(Payment, payment_id).order_id
    nonces.pay_with_nonce(order_id, people["buyer"], gateway.issue_nonce(nonce), BUYER)
    run_jobs()  # AUTO_CAPTURE: submit_for_settlement
    payment = fresh(payment_id)
    notify(gateway, "transaction_settled", payment.psp_reference)
    return fresh(payment_id)






def test_a_drop_in_payment_is_captured_on_braintree_into_escrow(app, people, fake):
    payment = paid(people, fake)
    assert (payment.provider, payment.status, payment.amount_captured) == (
        "braintree", "captured", TOTAL)
    assert fake.transactions[payment.psp_reference]["status"] == "settled"
    assert fake.executions[payment.idempotency_key] == 1
    assert fake.executions[f"capture:{payment.psp_reference}"] == 1
    assert payment.order.status == "paid"
    assert {s: (h.gross_amount, h.status) for s, h in holds(payment).items()} == {
        people["seller"]: (4800, "held"), people["other_seller"]: (1690, "held")}
    [capture] = postings("capture")
    assert capture.payment_id == payment.id
    fee = payment.psp_fee_amount or 0  # Braintree's sale does not state its fee
    assert bal(K.PSP_CLEARING, "braintree") == TOTAL - fee
    assert bal(K.ESCROW, people["seller"]) == 4800
    assert bal(K.ESCROW, people["other_seller"]) == 1690
    [event] = db.session.execute(select(WebhookEvent)).scalars().all()
    assert (event.event_type, event.status) == ("transaction_settled", "processed")


def test_refunds_by_support_and_by_the_seller_reach_braintree_once(app, people, fake):
    payment = paid(people, fake)
    by_seller = holds(payment)
    clearing = bal(K.PSP_CLEARING, "braintree")
    mug, candle = by_seller[people["seller"]], by_seller[people["other_seller"]]

    part = refunds.request_refund(payment.id, lines={mug.order_line_id: 1000},
                                  reason="scratched", actor=SUPPORT, by="support")
    seller = Actor("other_seller@test.example", "127.0.0.1", people["other_seller"])
    whole = refunds.request_refund(payment.id, lines={candle.order_line_id: 1690},
                                   reason="out of stock", actor=seller, by="seller")
    # Braintree sends no webhook for a refund that goes through: its answer settles it.
    for refund, amount in ((part, "10.00"), (whole, "16.90")):
        assert refund.status == "succeeded"
        assert fake.executions[refund.idempotency_key] == 1
        credit = fake.transactions[refund.psp_reference]
        assert (credit["type"], credit["amount"], credit["refunded_transaction_id"]) == (
            "credit", amount, payment.psp_reference)
    # A later settlement notification of the sale re-fetches it: refunds are ours to book.
    notify(fake, "transaction_settled", payment.psp_reference)

    payment = fresh(payment.id)
    assert (payment.status, payment.amount_refunded) == ("partially_refunded", 2690)
    assert len(postings("refund")) == 2
    mug, candle = holds(payment)[people["seller"]], holds(payment)[people["other_seller"]]
    assert (mug.refunded_amount, mug.fee_returned, mug.status) == (1000, 100, "held")
    assert (candle.refunded_amount, candle.status) == (1690, "refunded")
    assert bal(K.ESCROW, people["seller"]) == 3800 and bal(K.ESCROW, people["other_seller"]) == 0
    assert bal(K.PSP_CLEARING, "braintree") == clearing - 2690
    assert not payment.needs_review


def test_a_refund_whose_answer_is_lost_is_found_by_its_key_not_made_twice(app, people, fake):
    payment = paid(people, fake)
    fake.fail_next("5xx_after")  # Braintree refunds, then answers 500
    refund = refunds.request_refund(payment.id, amount=1000, reason="late", actor=SUPPORT,
                                    by="support")
    assert refund.status == "succeeded"
    assert fake.executions[refund.idempotency_key] == 1
    assert fake.transactions[payment.psp_reference]["refund_ids"] == [refund.psp_reference]
    payment = fresh(payment.id)
    assert (payment.status, payment.amount_refunded) == ("partially_refunded", 1000)
    assert len(postings("refund")) == 1


def test_a_late_refund_failure_reverses_the_refund_once(app, people, fake):
    payment = paid(people, fake)
    refund = refunds.request_refund(payment.id, amount=1000, reason="late", actor=SUPPORT,
                                    by="support")
    clearing = bal(K.PSP_CLEARING, "braintree")
    fake.transactions[refund.psp_reference]["status"] = "settlement_declined"  # the bank
    raw, _ = notify(fake, "refund_failed", refund.psp_reference)
    assert post(raw) == {"received": True, "duplicate": True}
    notify(fake, "refund_failed", refund.psp_reference)  # sent again later: new event id
    db.session.expire_all()
    refund = db.session.get(Refund, refund.id)
    assert refund.status == "reversed" and refund.failure_reason == "settlement_declined"
    payment = fresh(payment.id)
    assert (payment.status, payment.amount_refunded, payment.needs_review) == (
        "captured", 0, True)
    assert len(postings("refund_reversed")) == 1
    assert bal(K.PSP_CLEARING, "braintree") == clearing + 1000
    assert bal(K.ESCROW, people["seller"]) + bal(K.ESCROW, people["other_seller"]) == TOTAL


def test_a_refund_before_settlement_is_refused_with_a_clear_error(app, people, fake):
    fake.instant_settlement = False
    payment = paid(people, fake)
    assert fake.transactions[payment.psp_reference]["status"] == "submitted_for_settlement"
    assert payment.status == "captured"
    with pytest.raises(refunds.RefundFailed, match="has not settled yet") as refused:
        refunds.request_refund(payment.id, amount=1000, reason="early", actor=SUPPORT,
                               by="support")
    assert "Nothing was refunded" in refused.value.message
    assert fake.transactions[payment.psp_reference]["refund_ids"] == []
    assert postings("refund") == []
    assert fresh(payment.id).status == "captured"
    # Braintree's nightly batch settles the sale: the same request now goes through.
    fake.transactions[payment.psp_reference]["status"] = "settled"
    refund = refunds.request_refund(payment.id, amount=1000, reason="early", actor=SUPPORT,
                                    by="support")
    assert refund.status == "succeeded" and fresh(payment.id).amount_refunded == 1000


# --- chargebacks ----------------------------------------------------------------------------

def disputed(people, gateway) -> tuple[Payment, DisputeCase]:
    """A captured order with the disputed Visa; the bank opens a dispute when the sale settles
    and Braintree notifies dispute_opened; the case the inbox opened."""
    payment = paid(people, gateway, "fake-disputed-visa-nonce")
    [dispute_id] = gateway.transactions[payment.psp_reference]["disputes"]
    notify(gateway, "dispute_opened", dispute_id)
    return fresh(payment.id), case_of(payment)




def test_a_braintree_dispute_opens_a_chargeback_with_its_reason_fee_and_deadline(
        app, people, fake):
    payment, case = disputed(people, fake)
    reply_by = fake.disputes[case.psp_reference]["reply_by_date"]
    assert (case.kind, case.status, case.provider) == ("chargeback", "needs_response",
                                                       "braintree")
    assert (case.reason, case.amount, case.fee_amount, case.currency) == (
        "fraud", TOTAL, DISPUTE_FEE, "EUR")
    assert case.due_by == datetime(reply_by.year, reply_by.month, reply_by.day)
    assert case.due_by > utc_now() + timedelta(days=6)
    assert payment.status == "disputed"
    assert {h.status for h in holds(payment).values()} == {"on_hold"}
    # dispute_opened: Braintree took the amount and (by our configuration) its fee.
    assert dispute_intents(case) == [f"dispute_opened:braintree:{case.psp_reference}"]
    assert bal(K.DISPUTE_RESERVE, "braintree") == TOTAL + DISPUTE_FEE
    assert bal(K.PSP_CLEARING, "braintree") == -(payment.psp_fee_amount or 0) - DISPUTE_FEE
    assert bal(K.ESCROW, people["seller"]) == 4800  # frozen in escrow, not moved


def _submit_evidence(people, case: DisputeCase, gateway) -> None:
    chargebacks.submit_evidence(case.id, EVIDENCE, support_actor(people))
    at_braintree = gateway.disputes[case.psp_reference]
    assert sorted(e["comment"] for e in at_braintree["evidence"]) == [
        "shipping_tracking_number: TRACK-123",
        "uncategorized_text: Signed for at the door."]
    assert at_braintree["status"] == "disputed"  # finalized: the response went to the bank
    assert case_of(db.session.get(Payment, case.payment_id)).status == "under_review"


def test_a_won_braintree_dispute_returns_the_funds_but_not_the_fee(app, people, fake):
    payment, case = disputed(people, fake)
    clearing, fees = bal(K.PSP_CLEARING, "braintree"), bal(K.PSP_FEES)
    _submit_evidence(people, case, fake)
    fake.close_dispute(case.psp_reference, "won")
    notify(fake, "dispute_won", case.psp_reference)
    case = case_of(payment)
    assert (case.status, case.resolution, case.liable) == ("won", "won", None)
    # Braintree keeps its dispute fee on a win (the adapter's fee_returned_if_won is False).
    assert bal(K.PSP_CLEARING, "braintree") == clearing + TOTAL
    assert bal(K.PSP_FEES) == fees + DISPUTE_FEE
    assert bal(K.DISPUTE_RESERVE, "braintree") == 0
    assert {h.status for h in holds(payment).values()} == {"held"}
    assert fresh(payment.id).status == "captured"
    assert dispute_intents(case) == [f"dispute_opened:braintree:{case.psp_reference}",
                             f"dispute_won:braintree:{case.psp_reference}"]


def test_a_lost_braintree_dispute_is_the_sellers_and_the_fee_the_platforms(app, people, fake):
    payment, case = disputed(people, fake)
    fees = bal(K.PSP_FEES)
    _submit_evidence(people, case, fake)
    fake.close_dispute(case.psp_reference, "lost")
    notify(fake, "dispute_lost", case.psp_reference)
    case = case_of(payment)
    assert (case.status, case.resolution, case.liable) == ("lost", "lost", "seller")
    assert bal(K.ESCROW, people["seller"]) == 0 and bal(K.ESCROW, people["other_seller"]) == 0
    assert bal(K.DISPUTE_RESERVE, "braintree") == 0 and bal(K.DISPUTE_LOSSES) == 0
    assert bal(K.PSP_FEES) == fees + DISPUTE_FEE and bal(K.PLATFORM_FEES) == 0
    assert {(h.status, h.refunded_amount) for h in holds(payment).values()} == {
        ("refunded", 4800), ("refunded", 1690)}
    assert fresh(payment.id).status == "refunded"
    assert dispute_intents(case) == [f"dispute_lost:braintree:{case.psp_reference}",
                             f"dispute_opened:braintree:{case.psp_reference}"]


def test_evidence_for_a_dispute_accepted_at_braintree_is_refused_clearly(app, people, fake):
    payment, case = disputed(people, fake)
    # The merchant accepts the dispute in Braintree's Control Panel; its webhook is not in yet.
    fake.disputes[case.psp_reference]["status"] = "accepted"
    with pytest.raises(Conflict, match="no longer accepts evidence"):
        chargebacks.submit_evidence(case.id, EVIDENCE, support_actor(people))
    assert fake.disputes[case.psp_reference]["evidence"] == []
    notify(fake, "dispute_accepted", case.psp_reference)
    case = case_of(payment)
    assert (case.status, case.liable) == ("lost", "seller")
    assert fresh(payment.id).status == "refunded"


def test_duplicate_and_reordered_braintree_notifications_change_nothing(app, people, fake):
    payment = paid(people, fake, "fake-disputed-visa-nonce")
    [dispute_id] = fake.transactions[payment.psp_reference]["disputes"]
    fake.close_dispute(dispute_id, "lost")
    # The outcome arrives first, then the opening; then Braintree's retries of both.
    lost, _ = notify(fake, "dispute_lost", dispute_id)
    opened, _ = notify(fake, "dispute_opened", dispute_id)
    for raw in (lost, opened):
        assert post(raw) == {"received": True, "duplicate": True}
    # A settlement notification after the chargeback may not undo its outcome.
    notify(fake, "transaction_settled", payment.psp_reference)
    case = case_of(payment)
    assert (case.status, case.liable) == ("lost", "seller")
    assert dispute_intents(case) == [f"dispute_lost:braintree:{dispute_id}",
                             f"dispute_opened:braintree:{dispute_id}"]
    assert db.session.scalar(select(func.count()).select_from(DisputeCase)) == 1
    assert [e.kind for e in case.events].count("status") == 2
    assert fresh(payment.id).status == "refunded"
    assert bal(K.DISPUTE_RESERVE, "braintree") == 0 and bal(K.ESCROW, people["seller"]) == 0
    statuses = set(db.session.execute(select(WebhookEvent.status)).scalars())
    assert statuses == {"processed"}
