"""Braintree → platform vocabulary: every status the SDK knows is mapped on purpose."""
from __future__ import annotations

from datetime import date, datetime
from types import SimpleNamespace

import braintree
import pytest

from app.domain.payment_states import PaymentStatus
from app.providers.base import EventKind
from app.providers.braintree import mapping

S = PaymentStatus


def sdk_constants(holder) -> set[str]:
    """The string values of an SDK constants class (Transaction.Status, Dispute.Status)."""
    return {v for k, v in vars(holder).items() if not k.startswith("_") and isinstance(v, str)}


def txn(status: str, amount: str = "25.00", **extra):
    fields = {"id": "t1", "status": status, "amount": amount, "currency_iso_code": "EUR",
              "credit_card_details": SimpleNamespace(card_type="Visa", last_4="1111")}
    return SimpleNamespace(**(fields | extra))


def test_every_sdk_transaction_status_has_an_explicit_entry():
    assert sdk_constants(braintree.Transaction.Status) <= set(mapping.TRANSACTION_STATUSES)


def test_every_sdk_dispute_status_has_an_explicit_entry():
    assert sdk_constants(braintree.Dispute.Status) <= set(mapping.DISPUTE_STATUSES)


@pytest.mark.parametrize("raw, expected", [
    ("authorizing", S.AUTHORIZING), ("authorized", S.AUTHORIZED),
    ("authorization_expired", S.EXPIRED), ("submitted_for_settlement", S.CAPTURED),
    ("settlement_pending", S.CAPTURED), ("settling", S.CAPTURED), ("settled", S.CAPTURED),
    ("settlement_confirmed", S.CAPTURED), ("voided", S.CANCELLED),
    ("processor_declined", S.DECLINED), ("gateway_rejected", S.DECLINED), ("failed", S.FAILED),
    # Settlement refused after capture: support decides, never success.
    ("settlement_declined", None), ("settlement_failed", None),
    ("something_new", None), ("", None),
])
def test_transaction_status_mapping(raw, expected):
    assert mapping.to_provider_payment(txn(raw)).status == expected


def test_refunds_turn_a_capture_partially_or_fully_refunded():
    assert mapping.to_provider_payment(txn("settled"), refunded=500).status \
        == S.PARTIALLY_REFUNDED
    assert mapping.to_provider_payment(txn("settled"), refunded=2500).status == S.REFUNDED
    # Refund amounts never make an uncaptured authorization look refunded.
    assert mapping.to_provider_payment(txn("authorized"), refunded=0).status == S.AUTHORIZED


def test_captured_and_authorized_amounts_follow_the_status():
    captured = mapping.to_provider_payment(txn("submitted_for_settlement", "12.34"))
    assert (captured.amount_authorized, captured.amount_captured) == (1234, 1234)
    held = mapping.to_provider_payment(txn("authorized", "12.34"))
    assert (held.amount_authorized, held.amount_captured) == (1234, 0)
    declined = mapping.to_provider_payment(txn("processor_declined", processor_response_code="2001"))
    assert (declined.amount_authorized, declined.decline_code) == (0, "insufficient_funds")
    assert "insufficient funds" in declined.failure_message


@pytest.mark.parametrize("status, extra, code", [
    ("processor_declined", {"processor_response_code": "2000"}, "generic_decline"),
    ("processor_declined", {"processor_response_code": "2004"}, "expired_card"),
    ("processor_declined", {"processor_response_code": "2999"}, "card_declined"),
    ("gateway_rejected", {"gateway_rejection_reason": "fraud"}, "fraudulent"),
    ("gateway_rejected", {"gateway_rejection_reason": "cvv"}, "card_declined"),
    ("failed", {"processor_response_code": "3000"}, "processing_error"),
    ("authorized", {}, None),
])
def test_decline_codes(status, extra, code):
    assert mapping.decline_code(txn(status, **extra)) == code


@pytest.mark.parametrize("minor, currency, text", [
    (1234, "EUR", "12.34"), (5, "EUR", "0.05"), (500, "JPY", "500"), (1234, "BHD", "1.234")])
def test_amounts_cross_the_border_exactly(minor, currency, text):
    assert mapping.to_amount(minor, currency) == text
    assert mapping.from_amount(text, currency) == minor


def test_inexact_or_garbage_amounts_are_refused():
    with pytest.raises(ValueError):
        mapping.from_amount("12.345", "EUR")
    with pytest.raises(ValueError):
        mapping.from_amount("5.5", "JPY")
    with pytest.raises(ValueError):
        mapping.from_amount("1e3x", "EUR")
    assert mapping.from_amount("500.00", "JPY") == 500


@pytest.mark.parametrize("raw, expected", [
    ("open", "needs_response"), ("disputed", "under_review"), ("under_review", "under_review"),
    ("won", "won"), ("lost", "lost"), ("accepted", "lost"), ("auto_accepted", "lost"),
    ("expired", "lost"), ("brand_new", "needs_review")])
def test_dispute_status_mapping(raw, expected):
    dispute = SimpleNamespace(id="d1", status=raw, currency_iso_code="EUR",
                              amount_disputed="25.00", amount="25.00", reason="fraud",
                              reply_by_date=date(2026, 12, 1), transaction=SimpleNamespace(id="t1"),
                              evidence=[])
    mapped = mapping.to_provider_dispute(dispute, 1500)
    assert mapped.status == expected
    assert (mapped.amount, mapped.fee_amount, mapped.payment_reference) == (2500, 1500, "t1")
    assert mapped.fee_returned_if_won is False  # Braintree keeps the dispute fee
    assert mapped.due_by == datetime(2026, 12, 1)


@pytest.mark.parametrize("raw, expected", [
    ("submitted_for_settlement", "succeeded"), ("settled", "succeeded"),
    ("authorized", "pending"), ("voided", "failed"), ("settlement_declined", "failed"),
    ("processor_declined", "failed"), ("mystery", "needs_review")])
def test_refund_status_mapping(raw, expected):
    credit = SimpleNamespace(id="r1", status=raw, amount="5.00", currency_iso_code="EUR",
                             refunded_transaction_id="t1")
    refund = mapping.to_provider_refund(credit)
    assert (refund.status, refund.amount, refund.payment_reference) == (expected, 500, "t1")


def test_every_sdk_transaction_status_maps_to_a_refund_status():
    assert sdk_constants(braintree.Transaction.Status) <= set(mapping.REFUND_STATUSES)


@pytest.mark.parametrize("kind, expected", [
    ("transaction_settled", EventKind.PAYMENT),
    ("transaction_settlement_declined", EventKind.PAYMENT),
    ("dispute_opened", EventKind.DISPUTE), ("dispute_won", EventKind.DISPUTE),
    ("dispute_lost", EventKind.DISPUTE), ("refund_failed", EventKind.REFUND),
    # Braintree paying a bank: it may name a seller payout's credit (the handler looks).
    ("disbursement", EventKind.PAYOUT), ("disbursement_exception", EventKind.PAYOUT),
    ("subscription_went_past_due", EventKind.OTHER), ("check", EventKind.OTHER)])
def test_event_kinds(kind, expected):
    assert mapping.event_kind(kind) == expected


@pytest.mark.parametrize("decision, level", [("Approve", "normal"), ("Review", "elevated"),
                                             ("Decline", "highest"), ("Maybe", None)])
def test_card_identifier_issuing_country_and_risk_decision(decision, level):
    card = SimpleNamespace(card_type="Visa", last_4="1111", unique_number_identifier="u1",
                           country_of_issuance="DEU")
    report = mapping.to_provider_payment(txn("authorized", credit_card_details=card,
                                             risk_data=SimpleNamespace(decision=decision)))
    assert (report.card.fingerprint, report.card.country) == ("u1", "DE")
    assert report.risk_level == level
    unknown = SimpleNamespace(card_type="Visa", last_4="1111", country_of_issuance="Unknown")
    assert mapping.to_provider_payment(txn("authorized", credit_card_details=unknown)) \
        .card.country is None
