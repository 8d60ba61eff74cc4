"""Every Stripe status the platform can meet maps explicitly; anything else never means success."""
from __future__ import annotations

import pytest

from app.domain.payment_states import PaymentStatus as S
from app.providers.base import EventKind
from app.providers.stripe import mapping


def _intent(status, **extra) -> dict:
    return {"id": "pi_1", "object": "payment_intent", "amount": 1000, "currency": "eur",
            "status": status, **extra}


def _captured_charge(captured: int = 1000, refunded: int = 0, amount: int = 1000) -> dict:
    # Stripe counts the uncaptured rest of a partial capture as refunded on the charge.
    return {"id": "ch_1", "amount": amount, "amount_captured": captured, "captured": True,
            "amount_refunded": refunded + (amount - captured)}


@pytest.mark.parametrize("intent, expected", [
    (_intent("requires_payment_method"), S.PROCESSING),
    (_intent("requires_payment_method",
             last_payment_error={"code": "card_declined", "decline_code": "generic_decline"}),
     S.DECLINED),
    (_intent("requires_confirmation"), S.PROCESSING),
    (_intent("requires_action"), S.REQUIRES_ACTION),
    (_intent("processing"), S.AUTHORIZING),
    (_intent("requires_capture"), S.AUTHORIZED),
    (_intent("succeeded", latest_charge=_captured_charge()), S.CAPTURED),
    (_intent("succeeded", latest_charge=_captured_charge(refunded=300)), S.PARTIALLY_REFUNDED),
    (_intent("succeeded", latest_charge=_captured_charge(refunded=1000)), S.REFUNDED),
    (_intent("succeeded", latest_charge=_captured_charge(captured=600)), S.CAPTURED),
    (_intent("succeeded", latest_charge=_captured_charge(captured=600, refunded=600)),
     S.REFUNDED),
    (_intent("canceled", cancellation_reason="requested_by_customer"), S.CANCELLED),
    (_intent("canceled", cancellation_reason="duplicate"), S.CANCELLED),
    (_intent("canceled", cancellation_reason="automatic"), S.EXPIRED),
    (_intent("canceled", cancellation_reason="abandoned"), S.EXPIRED),
    (_intent("requires_source"), None),           # an old API version's status: review
    (_intent("something_new"), None),
])
def test_every_payment_intent_status(intent, expected):
    assert mapping.intent_status(intent) == expected


@pytest.mark.parametrize("session_status, intent, expected", [
    ("open", None, S.PROCESSING),
    ("expired", None, S.EXPIRED),
    ("complete", None, None),
    ("open", _intent("requires_payment_method", last_payment_error={"code": "x"}), S.DECLINED),
    ("complete", _intent("requires_capture"), S.AUTHORIZED),
    ("expired", _intent("canceled", cancellation_reason="abandoned"), S.EXPIRED),
    ("expired", _intent("requires_payment_method"), S.EXPIRED),
    ("mystery", None, None),
])
def test_checkout_session_status_defers_to_its_payment_intent(session_status, intent,
                                                              expected):
    assert mapping.session_status({"status": session_status}, intent) == expected


def test_partial_capture_rest_is_not_counted_as_a_refund():
    charge = _captured_charge(captured=700, refunded=200)
    assert charge["amount_refunded"] == 500
    assert mapping.refunded_amount(charge) == 200
    assert mapping.refunded_amount({}) == 0


def test_payment_report_carries_amounts_fee_card_and_decline():
    charge = {**_captured_charge(captured=800, refunded=100),
              "balance_transaction": {"fee": 53},
              "payment_method_details": {"card": {"brand": "visa", "last4": "4242"}}}
    report = mapping.to_provider_payment(
        {"id": "cs_1", "status": "complete", "amount_total": 1000, "currency": "eur",
         "url": None}, _intent("succeeded", latest_charge=charge, amount_received=800))
    assert (report.reference, report.status, report.currency) == ("cs_1", S.PARTIALLY_REFUNDED,
                                                                  "EUR")
    assert (report.amount_authorized, report.amount_captured, report.amount_refunded) == (
        1000, 800, 100)
    assert report.fee_amount == 53 and report.card.last4 == "4242"
    declined = mapping.to_provider_payment(
        {"id": "cs_2", "status": "open", "amount_total": 1000, "currency": "eur",
         "url": "http://pay"},
        _intent("requires_payment_method", last_payment_error={
            "code": "card_declined", "decline_code": "insufficient_funds"}))
    assert declined.status == S.DECLINED and declined.decline_code == "insufficient_funds"
    assert "insufficient funds" in declined.failure_message
    assert declined.redirect_url == "http://pay"  # the buyer may try another card there


@pytest.mark.parametrize("raw, expected", [
    ("pending", "pending"), ("requires_action", "pending"), ("succeeded", "succeeded"),
    ("failed", "failed"), ("canceled", "failed"), ("mystery", "needs_review"),
])
def test_every_refund_status(raw, expected):
    refund = {"id": "re_1", "amount": 100, "currency": "usd", "status": raw}
    assert mapping.to_provider_refund(refund, "cs_1").status == expected


@pytest.mark.parametrize("raw, expected", [
    ("warning_needs_response", "needs_response"), ("needs_response", "needs_response"),
    ("warning_under_review", "under_review"), ("under_review", "under_review"),
    ("warning_closed", "won"), ("won", "won"), ("lost", "lost"), ("prevented", "won"),
    ("charge_refunded", "needs_review"), ("mystery", "needs_review"),
])
def test_every_dispute_status(raw, expected):
    dispute = {"id": "dp_1", "amount": 100, "currency": "usd", "status": raw}
    assert mapping.to_provider_dispute(dispute, "cs_1", True).status == expected


def test_dispute_fee_and_whether_a_win_returned_it_come_from_balance_transactions():
    withdrawal = {"amount": -1000, "fee": 1500}
    opened = {"id": "dp_1", "amount": 1000, "currency": "usd", "status": "needs_response",
              "reason": "fraudulent", "balance_transactions": [withdrawal],
              "evidence_details": {"due_by": 1_800_000_000, "submission_count": 0}}
    report = mapping.to_provider_dispute(opened, "cs_1", fee_returned_if_won=False)
    assert (report.fee_amount, report.fee_returned_if_won) == (1500, False)
    assert report.due_by.year == 2027 and report.due_by.tzinfo is None
    won_with_fee = {**opened, "status": "won",
                    "balance_transactions": [withdrawal, {"amount": 1000, "fee": -1500}]}
    assert mapping.to_provider_dispute(won_with_fee, "cs_1", False).fee_returned_if_won
    won_without_fee = {**opened, "status": "won",
                       "balance_transactions": [withdrawal, {"amount": 1000, "fee": 0}]}
    assert not mapping.to_provider_dispute(won_without_fee, "cs_1", True).fee_returned_if_won


@pytest.mark.parametrize("event_type, kind", [
    ("checkout.session.completed", EventKind.PAYMENT),
    ("checkout.session.expired", EventKind.PAYMENT),
    ("checkout.session.async_payment_failed", EventKind.PAYMENT),
    ("payment_intent.amount_capturable_updated", EventKind.PAYMENT),
    ("payment_intent.canceled", EventKind.PAYMENT),
    ("charge.captured", EventKind.PAYMENT),
    ("charge.refunded", EventKind.OTHER),
    ("charge.refund.updated", EventKind.REFUND),
    ("refund.created", EventKind.REFUND),
    ("refund.failed", EventKind.REFUND),
    ("charge.dispute.created", EventKind.DISPUTE),
    ("charge.dispute.closed", EventKind.DISPUTE),
    ("charge.dispute.funds_reinstated", EventKind.DISPUTE),
    ("transfer.created", EventKind.PAYOUT),
    ("transfer.reversed", EventKind.PAYOUT),
    ("payout.paid", EventKind.OTHER),
    ("customer.created", EventKind.OTHER),
    ("invoice.paid", EventKind.OTHER),
])
def test_event_kinds(event_type, kind):
    assert mapping.event_kind(event_type) == kind


@pytest.mark.parametrize("raw, expected", [("normal", "normal"), ("elevated", "elevated"),
                                           ("highest", "highest"), ("not_assessed", None),
                                           ("unknown", None), (None, None)])
def test_radar_risk_level_fingerprint_and_country_reach_the_report(raw, expected):
    charge = {**_captured_charge(captured=1000, refunded=0),
              "outcome": {"type": "authorized", "risk_level": raw},
              "payment_method_details": {"card": {"brand": "visa", "last4": "9235",
                                                  "fingerprint": "fpX", "country": "FR"}}}
    report = mapping.to_provider_payment(None, _intent("requires_capture", latest_charge=charge))
    assert report.risk_level == expected
    assert (report.card.fingerprint, report.card.country) == ("fpX", "FR")
