"""The Braintree adapter through the official SDK against the in-repo XML fake."""
from __future__ import annotations

import uuid
from urllib.parse import urlencode

import pytest

from app.domain.payment_states import PaymentStatus
from app.providers.base import (
    InvalidSignature,
    ProviderError,
    ProviderTimeout,
    SessionRequest,
)
from app.providers.braintree import from_config
from tests.fakes.braintree.wiring import settings
from tests.flows import closed_port_url, eventually

S = PaymentStatus


def key() -> str:
    return f"hf_{uuid.uuid4().hex}"


def sale(bt, nonce: str = "fake-valid-visa-nonce", amount: int = 2500, reference=None,
         provider=None):
    """The adapter's nonce sale for a fresh (or given) reference."""
    return (provider or bt.provider()).authorize_nonce(reference or key(), nonce, amount, "EUR")


# --- session and authorization ---------------------------------------------------------------

def test_create_session_calls_nothing_and_waits_for_the_nonce(bt):
    request = SessionRequest(reference="hf_x", amount=1999, currency="EUR", mode="embedded",
                             return_url="http://p/r", cancel_url="http://p/c",
                             parent_origin="http://p", idempotency_key="hf_x")
    bt.fake.fail_next("5xx_before")  # would fail any call it made
    report = bt.provider().create_session(request)
    assert (report.reference, report.status, report.amount) == ("", S.PROCESSING, 1999)
    assert bt.fake.faults == ["5xx_before"]


def test_a_drop_in_nonce_authorizes_without_settling(bt):
    report = bt.authorized_payment(2500, "EUR", card="4111 1111 1111 1111")
    assert report.status == S.AUTHORIZED and report.raw_status == "authorized"
    assert (report.amount_authorized, report.amount_captured) == (2500, 0)
    assert (report.card.brand, report.card.last4) == ("Visa", "1111")
    assert bt.provider().retrieve(report.reference) == report


def test_the_same_reference_never_sells_twice(bt):
    reference = key()
    first = sale(bt, reference=reference)
    again = sale(bt, reference=reference)
    assert again.reference == first.reference
    assert bt.executions(reference) == 1


@pytest.mark.parametrize("fault", ["timeout_after", "5xx_after"])
def test_a_lost_answer_is_found_by_order_id_not_charged_again(bt, fault):
    reference = key()
    bt.fake.fail_next(fault)
    with pytest.raises(ProviderError) as lost:  # a held-back answer: the impatient adapter
        sale(bt, reference=reference, provider=bt.impatient_provider()
             if fault == "timeout_after" else None)
    assert lost.value.executed is None and lost.value.retryable
    assert isinstance(lost.value, ProviderTimeout) == (fault == "timeout_after")
    eventually(lambda: bt.executions(reference) == 1)  # the fake acted (under load: later)
    found = bt.provider().find_by_reference(reference)
    assert found is not None and found.status == S.AUTHORIZED
    assert sale(bt, reference=reference).reference == found.reference
    assert bt.executions(reference) == 1


def test_a_5xx_before_executing_leaves_nothing_and_the_retry_sells_once(bt):
    reference = key()
    bt.fake.fail_next("5xx_before")
    with pytest.raises(ProviderError) as failed:
        sale(bt, reference=reference)
    assert failed.value.executed is None  # a 500 cannot tell; the lookup settles it
    assert bt.provider().find_by_reference(reference) is None
    assert sale(bt, reference=reference).status == S.AUTHORIZED
    assert bt.executions(reference) == 1


def test_429_and_409_are_retryable_and_429_certainly_not_executed(bt):
    bt.fake.fail_next("429")
    with pytest.raises(ProviderError) as limited:
        sale(bt)
    assert (limited.value.status, limited.value.retryable, limited.value.executed) == \
        (429, True, False)
    bt.fake.fail_next("409")
    with pytest.raises(ProviderError) as conflict:
        sale(bt)
    assert conflict.value.retryable and conflict.value.executed is None


@pytest.mark.parametrize("nonce, amount, code", [
    ("fake-processor-declined-visa-nonce", 2500, "generic_decline"),
    ("fake-valid-visa-nonce", 200100, "insufficient_funds"),   # sandbox: amount 2001.00
    ("fake-gateway-rejected-fraud-nonce", 2500, "fraudulent"),
])
def test_declines_are_executed_errors_with_a_decline_code(bt, nonce, amount, code):
    reference = key()
    with pytest.raises(ProviderError) as declined:
        sale(bt, nonce=nonce, amount=amount, reference=reference)
    assert (declined.value.executed, declined.value.decline_code) == (True, code)
    assert not declined.value.retryable
    assert bt.provider().find_by_reference(reference).status == S.DECLINED


def test_after_a_decline_another_card_authorizes_and_is_the_one_found(bt):
    reference = key()
    with pytest.raises(ProviderError):
        sale(bt, nonce="fake-processor-declined-visa-nonce", reference=reference)
    paid = sale(bt, reference=reference)
    assert paid.status == S.AUTHORIZED
    assert bt.provider().find_by_reference(reference).reference == paid.reference


def test_an_unknown_or_used_nonce_is_refused_without_executing(bt):
    nonce = bt.nonce_for("4111111111111111")
    sale(bt, nonce=nonce)
    for bad in (nonce, "tokencc_forged"):
        with pytest.raises(ProviderError) as refused:
            sale(bt, nonce=bad)
        assert (refused.value.executed, refused.value.code) == (False, "91565")


# --- capture, void, cancel --------------------------------------------------------------------

def test_full_and_partial_capture(bt):
    full = bt.authorized_payment(2500, "EUR")
    captured = bt.provider().capture(full.reference, 2500, key())
    assert (captured.status, captured.amount_captured) == (S.CAPTURED, 2500)
    partial = bt.authorized_payment(2500, "EUR")
    captured = bt.provider().capture(partial.reference, 1000, key())
    assert (captured.status, captured.amount_captured) == (S.CAPTURED, 1000)


def test_capture_retried_after_a_lost_answer_settles_once(bt):
    payment = bt.authorized_payment(2500, "EUR")
    capture_key = key()
    bt.fake.fail_next("5xx_after")
    with pytest.raises(ProviderError) as lost:
        bt.provider().capture(payment.reference, 2500, capture_key)
    assert lost.value.executed is None
    again = bt.provider().capture(payment.reference, 2500, capture_key)
    assert again.status == S.CAPTURED
    assert bt.executions(capture_key) == 1


def test_capture_more_than_authorized_or_after_void_is_refused(bt):
    payment = bt.authorized_payment(2500, "EUR")
    with pytest.raises(ProviderError) as too_much:
        bt.provider().capture(payment.reference, 2501, key())
    assert (too_much.value.code, too_much.value.executed) == ("91522", False)
    assert bt.provider().void(payment.reference, key()).status == S.CANCELLED
    assert bt.provider().void(payment.reference, key()).status == S.CANCELLED  # idempotent
    with pytest.raises(ProviderError) as voided:
        bt.provider().capture(payment.reference, 2500, key())
    assert (voided.value.code, voided.value.executed) == ("91507", False)


def test_cancel_never_voids_an_authorization(bt):
    payment = bt.authorized_payment(2500, "EUR")
    with pytest.raises(ProviderError) as refused:
        bt.provider().cancel(payment.reference, key())
    assert refused.value.executed is False
    assert bt.provider().retrieve(payment.reference).status == S.AUTHORIZED


# --- refunds ----------------------------------------------------------------------------------

def captured(bt, amount: int = 2500):
    payment = bt.authorized_payment(amount, "EUR")
    return bt.provider().capture(payment.reference, amount, key())


def test_partial_then_full_refund(bt):
    payment = captured(bt)
    first = bt.provider().refund(payment.reference, 1000, key())
    assert (first.status, first.amount, first.payment_reference) == \
        ("succeeded", 1000, payment.reference)
    assert bt.provider().retrieve(payment.reference).status == S.PARTIALLY_REFUNDED
    bt.provider().refund(payment.reference, 1500, key())
    after = bt.provider().retrieve(payment.reference)
    assert (after.status, after.amount_refunded) == (S.REFUNDED, 2500)
    assert bt.provider().retrieve_refund(first.reference) == first


def test_a_refund_retried_with_its_key_is_made_once(bt):
    payment = captured(bt)
    refund_key = key()
    bt.fake.fail_next("5xx_after")
    with pytest.raises(ProviderError) as lost:
        bt.provider().refund(payment.reference, 700, refund_key)
    assert lost.value.executed is None
    again = bt.provider().refund(payment.reference, 700, refund_key)
    assert again.amount == 700 and bt.executions(refund_key) == 1
    assert bt.provider().retrieve(payment.reference).amount_refunded == 700


def test_refund_beyond_what_is_left_is_refused_unexecuted(bt):
    payment = captured(bt)
    bt.provider().refund(payment.reference, 2000, key())
    with pytest.raises(ProviderError) as refused:
        bt.provider().refund(payment.reference, 501, key())
    assert (refused.value.code, refused.value.executed) == ("91521", False)


def test_refund_before_settlement_asks_to_retry_later(bt):
    bt.fake.instant_settlement = False
    payment = captured(bt)
    assert payment.raw_status == "submitted_for_settlement" and payment.status == S.CAPTURED
    with pytest.raises(ProviderError) as early:
        bt.provider().refund(payment.reference, 100, key())
    assert (early.value.code, early.value.retryable, early.value.executed) == \
        ("not_settled", True, False)


# --- disputes ---------------------------------------------------------------------------------

def test_dispute_lifecycle_with_text_evidence(bt):
    payment = captured(bt)
    dispute_id = bt.open_dispute(payment.reference)
    opened = bt.provider().retrieve_dispute(dispute_id)
    assert (opened.status, opened.amount, opened.payment_reference) == \
        ("needs_response", 2500, payment.reference)
    assert (opened.fee_amount, opened.fee_returned_if_won, opened.evidence_submitted) == \
        (1500, False, False)
    assert opened.due_by is not None
    draft = bt.provider().submit_dispute_evidence(
        dispute_id, {"product_description": "Blue mug", "shipping_tracking": "1Z999"},
        submit=False)
    assert draft.status == "needs_response" and not draft.evidence_submitted
    sent = bt.provider().submit_dispute_evidence(dispute_id, {"product_description": "Blue mug"})
    assert sent.status == "under_review" and sent.evidence_submitted
    comments = [e["comment"] for e in bt.fake.disputes[dispute_id]["evidence"]]
    assert sorted(comments) == ["product_description: Blue mug", "shipping_tracking: 1Z999"]
    bt.close_dispute(dispute_id, "won")
    assert bt.provider().retrieve_dispute(dispute_id).status == "won"


def test_the_dispute_card_is_disputed_on_settlement_and_can_be_lost(bt):
    payment = bt.authorized_payment(1800, "EUR", card="4023898493988028")
    bt.provider().capture(payment.reference, 1800, key())
    [dispute_id] = bt.fake.transactions[payment.reference]["disputes"]
    bt.close_dispute(dispute_id, "lost")
    lost = bt.provider().retrieve_dispute(dispute_id)
    assert (lost.status, lost.amount) == ("lost", 1800)
    with pytest.raises(ProviderError) as closed:
        bt.provider().submit_dispute_evidence(dispute_id, {"note": "too late"})
    assert closed.value.executed is False


# --- what the adapter does not do, and transport errors ---------------------------------------

def test_bank_payouts_and_saved_cards_are_refused_clearly(bt):
    # A seller is paid only into a sub-merchant account (test_braintree_payouts.py).
    with pytest.raises(ProviderError) as refused:
        bt.provider().create_payout(100, "EUR", {"iban": "x"}, "A", key())
    assert (refused.value.code, refused.value.executed) == ("destination_unsupported", False)
    with pytest.raises(ProviderError) as refused:
        bt.provider().authorize_saved("t", "tok", key())
    assert (refused.value.code, refused.value.executed) == ("unsupported", False)


def test_unknown_transaction_is_resource_missing(bt):
    with pytest.raises(ProviderError) as missing:
        bt.provider().retrieve("nope1234")
    assert (missing.value.code, missing.value.status, missing.value.executed) == \
        ("resource_missing", 404, False)


def test_unreachable_gateway_certainly_did_not_execute():
    adapter = from_config(settings(closed_port_url()) | {"PSP_TIMEOUT_SECONDS": 1})
    with pytest.raises(ProviderError) as down:
        adapter.authorize_nonce(key(), "fake-valid-nonce", 100, "EUR")
    assert (down.value.executed, down.value.retryable) == (False, True)


def test_wrong_credentials_are_not_retried(bt):
    adapter = from_config(settings(bt.url) | {"BRAINTREE_PRIVATE_KEY": "wrong"})
    with pytest.raises(ProviderError) as refused:
        adapter.retrieve("abc")
    assert (refused.value.code, refused.value.retryable, refused.value.executed) == \
        ("authentication", False, False)


def test_not_configured_without_credentials():
    assert from_config({"BRAINTREE_MERCHANT_ID": "m", "BRAINTREE_PUBLIC_KEY": ""}) is None


# --- webhooks ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kind, subject", [
    ("dispute_opened", "dp1"), ("dispute_won", "dp1"), ("dispute_lost", "dp1"),
    ("transaction_settled", "tx1"), ("transaction_settlement_declined", "tx1"),
    ("disbursement", "db1"), ("disbursement_exception", "db1")])
def test_signed_notifications_parse_with_kind_subject_and_timestamp(bt, kind, subject):
    body, headers = bt.signed_webhook(kind, subject)
    event = bt.provider().parse_webhook(body, headers)
    assert (event.provider, event.type, event.object_id) == ("braintree", kind, subject)
    assert event.event_id.startswith(f"{kind}:{subject}:20")
    assert bt.provider().event_kind(kind) == bt.provider().event_kind(event.type)


def test_a_body_that_is_not_the_form_is_rejected(bt):
    body, _ = bt.signed_webhook("dispute_opened", "dp1")
    for bad in (b"", b"\xff\xfe", body + b"&bt_payload=again", b'{"kind": "dispute_opened"}',
                urlencode({"bt_signature": "x|y"}).encode()):
        with pytest.raises(InvalidSignature):
            bt.provider().parse_webhook(bad, {})
