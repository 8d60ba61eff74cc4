"""Per-shipment capture against the sandbox: a two-seller order is authorized at checkout, seller
A's line is captured when A ships (a partial capture the sandbox lists), B never ships and the
rest is voided at the deadline; every step is checked against the sandbox's own records."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.domain.capture_states import LineCaptureStatus
from app.extensions import db
from app.jobs import payments as payment_jobs
from app.models import EscrowHold, Item, Notification, Order
from app.models.captures import LineCapture
from app.services.audit import Actor
from app.services.errors import Conflict, NotFound
from app.services.payments import captures
from app.services.refunds import refunds
from app.services.shop import fulfilment
from tests import flows

SELLER = Actor("seller@test.example", "127.0.0.1")
SUPPORT = Actor("support@test.example", "127.0.0.1")
ADMIN = Actor("admin@test.example", "127.0.0.1")
DAY = 24 * 3600


@pytest.fixture
def rates(app, monkeypatch):
    """The demo's reference rates, a 1.5 % margin and German VAT (as the converted checkout's
    tests set them)."""
    from app.services.money import fx
    from app.services.shop import tax

    monkeypatch.setitem(app.config, "FX_MARGIN_BPS", 150)
    fx.refresh(ADMIN)
    tax.import_csv("DE,standard,19\n", ADMIN)


@pytest.fixture
def per_shipment(app, monkeypatch):
    monkeypatch.setitem(app.config, "CAPTURE_POLICY", "per_shipment")
    monkeypatch.setitem(app.config, "UNCAPTURED_VOID_DAYS", 5)


def _session(stack, reference: str) -> dict:
    return flows.psp_call(stack["psp_url"], "GET", f"/v1/payment_sessions/{reference}").json()


def _executions(stack) -> dict[str, int]:
    return flows.psp_call(stack["psp_url"], "GET", "/v1/_stats").json()["executions"]


def _rows(payment_id: int) -> dict[int, LineCapture]:
    db.session.expire_all()
    return {r.seller_id: r for r in captures.lines_of(payment_id)}


def _authorized_two_seller_order(client, people, stack, psp):
    flows.login(client, "buyer")
    flows.add(client, people["mug"])      # seller: 24.00
    flows.add(client, people["candle"])   # other_seller: 16.90
    order_id, payment = flows.order_and_start(client, "EUR", "hosted")
    flows.buyer_pays(stack["psp_url"], payment.psp_reference)
    flows.settle(psp)
    return order_id, flows.latest_payment(order_id)


def test_checkout_only_authorizes_and_each_line_waits_for_its_seller(
        per_shipment, client, people, stack, psp):
    order_id, payment = _authorized_two_seller_order(client, people, stack, psp)
    assert payment.status == "authorized" and payment.amount_captured == 0
    assert db.session.get(Order, order_id).status == "paid"
    rows = _rows(payment.id)
    assert {s: (r.status, r.amount) for s, r in rows.items()} == {
        people["seller"]: ("awaiting_shipment", 2400),
        people["other_seller"]: ("awaiting_shipment", 1690)}
    at_psp = _session(stack, payment.psp_reference)
    assert at_psp["status"] == "authorized" and at_psp["captures"] == []
    assert db.session.execute(select(EscrowHold)).first() is None  # nothing captured, no escrow
    # The buyer's page says when the card is charged; the status page stops polling.
    page = client.get(f"/orders/{order_id}").get_data(as_text=True)
    assert "data-line-authorized" in page and "charged" in page


def test_seller_a_ships_and_only_a_is_captured_then_b_is_voided_at_the_deadline(
        per_shipment, client, people, stack, psp, platform_clock):
    order_id, payment = _authorized_two_seller_order(client, people, stack, psp)
    rows = _rows(payment.id)
    candle_stock = db.session.get(Item, people["candle"]).stock

    fulfilment.mark_authorized_shipped(people["seller"], rows[people["seller"]].id, "DHL",
                                       "TRACK-A", SELLER)
    flows.settle(psp)

    payment = flows.latest_payment(order_id)
    at_psp = _session(stack, payment.psp_reference)
    assert at_psp["status"] == "partially_captured"
    assert [(c["amount"], c["final_capture"]) for c in at_psp["captures"]] == [(2400, False)]
    assert payment.status == "partially_captured" and payment.amount_captured == 2400
    holds = db.session.execute(select(EscrowHold)).scalars().all()
    assert [(h.seller_id, h.gross_amount) for h in holds] == [(people["seller"], 2400)]
    assert holds[0].shipped_at is not None and holds[0].tracking_ref == "TRACK-A"
    assert _rows(payment.id)[people["other_seller"]].status == "awaiting_shipment"

    # Before the deadline the periodic owner leaves B alone.
    platform_clock.advance(4 * DAY)
    assert payment_jobs.void_uncaptured() == {"voided": 0, "captured": 0}
    platform_clock.advance(1 * DAY + 60)
    assert payment_jobs.void_uncaptured() == {"voided": 1, "captured": 0}

    payment = flows.latest_payment(order_id)
    at_psp = _session(stack, payment.psp_reference)
    assert at_psp["status"] == "captured" and at_psp["amount_captured"] == 2400
    assert at_psp["amount_capturable"] == 0 and len(at_psp["captures"]) == 1
    assert payment.status == "captured" and payment.amount_captured == 2400
    b = _rows(payment.id)[people["other_seller"]]
    assert b.status == "voided" and b.voided_at is not None
    assert db.session.get(Item, people["candle"]).stock == candle_stock + 1
    told = {n.user_id for n in db.session.execute(select(Notification).where(
        Notification.kind == "line_voided")).scalars()}
    assert told == {people["buyer"], people["other_seller"]}
    # Nothing more happens on the next run, and the PSP saw one void.
    assert payment_jobs.void_uncaptured() == {"voided": 0, "captured": 0}
    assert _executions(stack)[f"{payment.idempotency_key}:void-rest"] == 1
    page = client.get(f"/orders/{order_id}").get_data(as_text=True)
    assert "data-line-voided" in page and "not charged" in page
    assert 'data-charged="2400"' in page and "charged €24.00 of €40.90 authorized" in page


def test_the_capture_job_run_twice_captures_once_at_the_psp(
        per_shipment, client, people, stack, psp, monkeypatch):
    order_id, payment = _authorized_two_seller_order(client, people, stack, psp)
    row = _rows(payment.id)[people["seller"]]
    fulfilment.mark_authorized_shipped(people["seller"], row.id, "DHL", "", SELLER)

    # The first run's answer is lost after the PSP captured (a worker killed before commit).
    real_apply = captures._apply
    monkeypatch.setattr(captures, "_apply", lambda *a, **k: (_ for _ in ()).throw(
        RuntimeError("worker killed")))
    with pytest.raises(RuntimeError):
        payment_jobs.capture_shipped(payment.id)
    monkeypatch.setattr(captures, "_apply", real_apply)
    assert payment_jobs.capture_shipped(payment.id) == "captured"
    assert payment_jobs.capture_shipped(payment.id) == "unchanged"

    at_psp = _session(stack, payment.psp_reference)
    assert len(at_psp["captures"]) == 1 and at_psp["amount_captured"] == 2400
    assert _executions(stack)[row.idempotency_key] == 1
    assert flows.latest_payment(order_id).amount_captured == 2400


def test_when_every_seller_ships_the_last_capture_is_final(
        per_shipment, client, people, stack, psp):
    order_id, payment = _authorized_two_seller_order(client, people, stack, psp)
    rows = _rows(payment.id)
    for seller in ("seller", "other_seller"):
        fulfilment.mark_authorized_shipped(people[seller], rows[people[seller]].id, "UPS", "",
                                           SELLER)
        flows.settle(psp)
    at_psp = _session(stack, payment.psp_reference)
    assert [(c["amount"], c["final_capture"]) for c in at_psp["captures"]] == [
        (2400, False), (1690, True)]
    payment = flows.latest_payment(order_id)
    assert payment.status == "captured" and payment.amount_captured == 4090
    assert payment.psp_fee_amount == at_psp["fee"]["amount"]
    assert db.session.get(Order, order_id).status == "shipped"


def test_a_captured_line_refunds_and_a_voided_one_cannot(
        per_shipment, client, people, stack, psp, platform_clock):
    order_id, payment = _authorized_two_seller_order(client, people, stack, psp)
    rows = _rows(payment.id)
    fulfilment.mark_authorized_shipped(people["seller"], rows[people["seller"]].id, "DHL", "",
                                       SELLER)
    flows.settle(psp)
    mug_line, candle_line = rows[people["seller"]].order_line_id, \
        rows[people["other_seller"]].order_line_id
    # While the rest is still authorized, the captured line can go back to the buyer.
    refund = refunds.request_refund(payment.id, lines={mug_line: 2400}, reason="damaged",
                                    actor=SUPPORT, by="support")
    flows.settle(psp)
    assert refund.amount == 2400
    payment = flows.latest_payment(order_id)
    assert payment.status == "partially_refunded" and payment.amount_refunded == 2400
    # A line never captured has no money to give back: it is voided instead.
    with pytest.raises((NotFound, Conflict)):
        refunds.request_refund(payment.id, lines={candle_line: 1690}, reason="x",
                               actor=SUPPORT, by="support")
    platform_clock.advance(6 * DAY)
    assert payment_jobs.void_uncaptured()["voided"] == 1
    at_psp = _session(stack, payment.psp_reference)
    assert at_psp["amount_captured"] == 2400 and at_psp["amount_refunded"] == 2400


def test_nobody_ships_and_the_whole_order_is_cancelled(
        per_shipment, client, people, stack, psp, platform_clock):
    order_id, payment = _authorized_two_seller_order(client, people, stack, psp)
    mug_stock = db.session.get(Item, people["mug"]).stock
    platform_clock.advance(6 * DAY)
    assert payment_jobs.void_uncaptured() == {"voided": 2, "captured": 0}
    payment = flows.latest_payment(order_id)
    assert payment.status == "cancelled" and payment.amount_captured == 0
    assert _session(stack, payment.psp_reference)["status"] == "canceled"
    assert db.session.get(Order, order_id).status == "cancelled"
    assert db.session.get(Item, people["mug"]).stock == mug_stock + 1
    with pytest.raises(Conflict):  # too late to ship a cancelled line
        fulfilment.mark_authorized_shipped(people["seller"], _rows(payment.id)[
            people["seller"]].id, "DHL", "", SELLER)


def test_another_sellers_line_is_not_found(per_shipment, client, people, stack, psp):
    _, payment = _authorized_two_seller_order(client, people, stack, psp)
    row = _rows(payment.id)[people["other_seller"]]
    with pytest.raises(NotFound):
        fulfilment.mark_authorized_shipped(people["seller"], row.id, "DHL", "", SELLER)
    assert _rows(payment.id)[people["other_seller"]].state == LineCaptureStatus.AWAITING_SHIPMENT


def test_at_checkout_policy_captures_the_whole_payment(client, people, stack, psp):
    order_id = flows.paid_order(client, people, stack, psp, {"mug": 1, "candle": 1})
    payment = flows.latest_payment(order_id)
    assert payment.amount_captured == 4090 and captures.lines_of(payment.id) == []


def test_a_capture_the_psp_can_no_longer_make_voids_the_line_and_asks_support(
        per_shipment, client, people, stack, psp, platform_clock):
    order_id, payment = _authorized_two_seller_order(client, people, stack, psp)
    rows = _rows(payment.id)
    mug_stock = db.session.get(Item, people["mug"]).stock
    fulfilment.mark_authorized_shipped(people["seller"], rows[people["seller"]].id, "DHL", "",
                                       SELLER)
    # The authorization is gone at the PSP before the capture job runs (voided elsewhere).
    flows.psp_call(stack["psp_url"], "POST", f"/v1/payment_sessions/{payment.psp_reference}/void")
    assert payment_jobs.capture_shipped(payment.id) == "voided"
    payment = flows.latest_payment(order_id)
    assert payment.status == "cancelled" and payment.needs_review
    assert "refused the capture" in payment.review_reason
    mug = _rows(payment.id)[people["seller"]]
    assert mug.status == "voided" and "could no longer charge" in mug.void_reason
    assert db.session.get(Item, people["mug"]).stock == mug_stock  # it left with the carrier
    assert db.session.execute(select(EscrowHold)).first() is None
    # At the deadline the other line is cancelled too, without asking the PSP again.
    platform_clock.advance(6 * DAY)
    assert payment_jobs.void_uncaptured() == {"voided": 1, "captured": 0}
    assert db.session.get(Order, order_id).status == "cancelled"


def test_without_multicapture_one_capture_waits_for_every_seller_or_the_deadline(
        per_shipment, client, people, stack, psp, platform_clock, monkeypatch):
    """Stripe and Braintree here: one final capture of what shipped; the rest is released."""
    from app.providers.sandbox import SandboxProvider

    monkeypatch.setattr(SandboxProvider, "multicapture", lambda self: False)
    order_id, payment = _authorized_two_seller_order(client, people, stack, psp)
    rows = _rows(payment.id)
    fulfilment.mark_authorized_shipped(people["seller"], rows[people["seller"]].id, "DHL", "",
                                       SELLER)
    flows.settle(psp)
    assert _session(stack, payment.psp_reference)["captures"] == []  # B may still ship
    assert _rows(payment.id)[people["seller"]].status == "due"
    platform_clock.advance(6 * DAY)
    assert payment_jobs.void_uncaptured() == {"voided": 1, "captured": 1}
    at_psp = _session(stack, payment.psp_reference)
    assert [(c["amount"], c["final_capture"]) for c in at_psp["captures"]] == [(2400, True)]
    assert at_psp["status"] == "captured" and at_psp["amount_capturable"] == 0
    assert f"{payment.idempotency_key}:void-rest" not in _executions(stack)  # nothing to void
    payment = flows.latest_payment(order_id)
    assert payment.status == "captured" and payment.amount_captured == 2400
    assert _rows(payment.id)[people["other_seller"]].status == "voided"


def test_a_converted_and_taxed_order_is_captured_line_by_line_in_each_sellers_currency(
        per_shipment, client, people, stack, psp, rates):
    from tests.services.checkout.test_svc_converted_checkout import place, set_country

    set_country(people["buyer"], "DE")
    flows.login(client, "buyer")
    flows.add(client, people["mug"])     # seller, EUR 24.00 + 19 % VAT
    flows.add(client, people["kettle"])  # other_seller, USD 42.00, converted + VAT
    order_id = place(client)
    order = db.session.get(Order, order_id)
    mug, kettle = sorted(order.lines, key=lambda line: line.currency)
    client.post(f"/checkout/{order_id}/pay", data={"mode": "hosted"})
    payment = flows.latest_payment(order_id)
    flows.buyer_pays(stack["psp_url"], payment.psp_reference)
    flows.settle(psp)
    rows = _rows(payment.id)
    assert rows[people["seller"]].amount == mug.paid == 2400 + 456
    assert rows[people["other_seller"]].amount == kettle.paid
    for seller in ("seller", "other_seller"):
        fulfilment.mark_authorized_shipped(people[seller], rows[people[seller]].id, "DHL", "",
                                           SELLER)
        flows.settle(psp)
    holds = {h.seller_id: h for h in db.session.execute(select(EscrowHold)).scalars()}
    assert (holds[people["seller"]].currency, holds[people["seller"]].gross_amount) == ("EUR",
                                                                                       2400)
    assert (holds[people["other_seller"]].currency,
            holds[people["other_seller"]].gross_amount) == ("USD", 4200)
    at_psp = _session(stack, payment.psp_reference)
    assert [c["amount"] for c in at_psp["captures"]] == [mug.paid, kettle.paid]
    assert flows.latest_payment(order_id).amount_captured == order.total_amount


def test_a_webhook_ahead_of_a_lost_final_capture_still_leaves_it_booked_once(
        per_shipment, client, people, stack, psp, monkeypatch):
    from app.providers.registry import get_provider
    from app.services.payments import payments

    flows.login(client, "buyer")
    flows.add(client, people["mug"])
    order_id, payment = flows.order_and_start(client, "EUR", "hosted")
    flows.buyer_pays(stack["psp_url"], payment.psp_reference)
    flows.settle(psp)
    row = captures.lines_of(payment.id)[0]
    fulfilment.mark_authorized_shipped(people["seller"], row.id, "DHL", "", SELLER)
    real_apply = captures._apply
    monkeypatch.setattr(captures, "_apply", lambda *a, **k: (_ for _ in ()).throw(
        RuntimeError("worker killed")))
    with pytest.raises(RuntimeError):
        payment_jobs.capture_shipped(payment.id)
    monkeypatch.setattr(captures, "_apply", real_apply)
    # The PSP's "captured" webhook lands first: the payment is CAPTURED, nothing booked yet.
    report = get_provider("sandbox").retrieve(payment.psp_reference)
    payments.apply_report(payment.id, report, "webhook", SUPPORT)
    assert flows.latest_payment(order_id).status == "captured"
    assert db.session.execute(select(EscrowHold)).first() is None
    assert payment_jobs.capture_shipped(payment.id) == "captured"
    hold = db.session.execute(select(EscrowHold)).scalar_one()
    assert hold.gross_amount == 2400 and hold.shipped_at is not None
    assert _executions(stack)[row.idempotency_key] == 1


def test_a_claim_is_opened_on_a_captured_line_never_on_an_authorized_one(
        per_shipment, client, people, stack, psp):
    from app.services.disputes import claims

    buyer = Actor("buyer@test.example", "127.0.0.1")
    _, payment = _authorized_two_seller_order(client, people, stack, psp)
    rows = _rows(payment.id)
    fulfilment.mark_authorized_shipped(people["seller"], rows[people["seller"]].id, "DHL", "",
                                       SELLER)
    flows.settle(psp)
    case = claims.open_claim(people["buyer"], rows[people["seller"]].order_line_id,
                             "not_received", "It never came.", [], buyer)
    assert case.amount == 2400  # while the other seller's line is still only authorized
    with pytest.raises(Conflict, match="not been paid for yet"):
        claims.open_claim(people["buyer"], rows[people["other_seller"]].order_line_id,
                          "not_received", "Nothing here either.", [], buyer)


def test_a_converted_taxed_line_captured_alone_refunds_what_was_paid_for_it(
        per_shipment, client, people, stack, psp, rates):
    """Only the mug shipped: refunding it in full gives the buyer back all they paid for it
    (its VAT included), not its share of the captured amount spread over both lines."""
    from tests.services.checkout.test_svc_converted_checkout import place, set_country

    set_country(people["buyer"], "DE")
    flows.login(client, "buyer")
    flows.add(client, people["mug"])     # seller, EUR 24.00 + 19 % VAT
    flows.add(client, people["kettle"])  # other_seller, USD 42.00, converted + VAT
    order_id = place(client)
    mug = next(line for line in db.session.get(Order, order_id).lines if line.currency == "EUR")
    client.post(f"/checkout/{order_id}/pay", data={"mode": "hosted"})
    payment = flows.latest_payment(order_id)
    flows.buyer_pays(stack["psp_url"], payment.psp_reference)
    flows.settle(psp)
    rows = _rows(payment.id)
    fulfilment.mark_authorized_shipped(people["seller"], rows[people["seller"]].id, "DHL", "",
                                       SELLER)
    flows.settle(psp)
    payment = flows.latest_payment(order_id)
    assert payment.amount_captured == mug.paid == 2400 + 456

    refund = refunds.request_refund(payment.id, lines={mug.id: 2400}, reason="damaged",
                                    actor=SUPPORT, by="support")
    flows.settle(psp)
    assert refund.amount == mug.paid  # the line's price and its VAT
    at_psp = _session(stack, payment.psp_reference)
    assert at_psp["amount_refunded"] == mug.paid
