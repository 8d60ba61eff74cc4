"""The Stripe adapter, through the official SDK, against the in-repo fake Stripe."""
from __future__ import annotations

import pytest

from app.domain.payment_states import PaymentStatus as S
from app.providers.base import ProviderError
from app.providers.stripe import client as stripe_client
from app.providers.stripe import from_config
from tests.fakes.stripe.controls import close, pay_session
from tests.providers.stripe.conftest import API_KEY, key, session_request


def _authorized(provider, fake, amount=2500, card="4242424242424242"):
    started = provider.create_session(session_request(amount=amount))
    assert pay_session(fake, started.reference, card) is None
    return started.reference


def test_hosted_session_asks_stripe_for_manual_capture_with_our_reference(stripe_provider,
                                                                          fake):
    request = session_request(amount=1999, currency="EUR")
    started = stripe_provider.create_session(request)
    assert started.reference.startswith("cs_") and started.status == S.PROCESSING
    assert started.redirect_url == f"{fake.public_url}/c/pay/{started.reference}"
    session = fake.objects[started.reference]
    assert session["client_reference_id"] == request.reference
    assert session["metadata"] == {"holdfast_reference": request.reference}
    assert (session["amount_total"], session["currency"]) == (1999, "eur")
    assert (session["success_url"], session["cancel_url"]) == (request.return_url,
                                                               request.cancel_url)
    assert fake.extras[started.reference]["pi_data"]["capture_method"] == "manual"


def test_create_session_retried_with_the_same_key_creates_one_session(stripe_provider, fake):
    request = session_request()
    first, again = stripe_provider.create_session(request), stripe_provider.create_session(
        request)
    assert first.reference == again.reference
    assert fake.executions(request.idempotency_key) == 1
    assert len(fake.of_kind("checkout.session")) == 1


def test_authorize_partial_capture_refund_until_fully_refunded(stripe_provider, fake):
    reference = _authorized(stripe_provider, fake, amount=3000)
    authorized = stripe_provider.retrieve(reference)
    assert (authorized.status, authorized.amount_authorized) == (S.AUTHORIZED, 3000)
    assert (authorized.card.brand, authorized.card.last4) == ("visa", "4242")
    captured = stripe_provider.capture(reference, 2000, key())
    assert (captured.status, captured.amount_captured, captured.reference) == (
        S.CAPTURED, 2000, reference)
    assert captured.fee_amount == 2000 * 290 // 10_000 + 30
    refund = stripe_provider.refund(reference, 500, key(), metadata={"refund": 7})
    assert (refund.status, refund.amount, refund.payment_reference) == ("succeeded", 500,
                                                                        reference)
    assert fake.objects[refund.reference]["metadata"]["refund"] == "7"
    assert fake.objects[refund.reference]["metadata"]["holdfast_payment"] == reference
    assert stripe_provider.retrieve(reference).status == S.PARTIALLY_REFUNDED
    with pytest.raises(ProviderError) as too_much:
        stripe_provider.refund(reference, 1501, key())
    assert (too_much.value.code, too_much.value.executed) == ("amount_too_large", False)
    stripe_provider.refund(reference, 1500, key())
    final = stripe_provider.retrieve(reference)
    assert (final.status, final.amount_refunded) == (S.REFUNDED, 2000)
    assert stripe_provider.retrieve_refund(refund.reference) == refund


def test_declined_card_is_reported_with_its_decline_code(stripe_provider, fake):
    started = stripe_provider.create_session(session_request())
    assert pay_session(fake, started.reference, "4000000000000002") == "Your card was declined."
    report = stripe_provider.retrieve(started.reference)
    assert (report.status, report.decline_code) == (S.DECLINED, "generic_decline")
    assert report.redirect_url  # the session is still open: another card may be tried
    assert pay_session(fake, started.reference, "4242424242424242") is None
    assert stripe_provider.retrieve(started.reference).status == S.AUTHORIZED


def test_void_releases_the_authorization_and_capture_after_void_is_refused(stripe_provider,
                                                                          fake):
    reference = _authorized(stripe_provider, fake)
    voided = stripe_provider.void(reference, key())
    assert voided.status == S.CANCELLED
    assert stripe_provider.retrieve(reference).status == S.CANCELLED
    with pytest.raises(ProviderError) as refused:
        stripe_provider.capture(reference, 2500, key())
    assert (refused.value.code, refused.value.executed, refused.value.retryable) == (
        "payment_intent_unexpected_state", False, False)


def test_capture_more_than_authorized_is_refused(stripe_provider, fake):
    reference = _authorized(stripe_provider, fake, amount=1000)
    with pytest.raises(ProviderError) as refused:
        stripe_provider.capture(reference, 1001, key())
    assert refused.value.executed is False
    assert stripe_provider.retrieve(reference).status == S.AUTHORIZED


def test_cancel_expires_an_open_session_but_never_an_authorization(stripe_provider, fake):
    started = stripe_provider.create_session(session_request())
    cancelled = stripe_provider.cancel(started.reference, key())
    assert cancelled.status == S.EXPIRED and cancelled.redirect_url is None
    assert fake.objects[started.reference]["status"] == "expired"
    reference = _authorized(stripe_provider, fake)
    with pytest.raises(ProviderError) as refused:
        stripe_provider.cancel(reference, key())
    assert refused.value.executed is False
    assert stripe_provider.retrieve(reference).status == S.AUTHORIZED


def test_capture_before_the_buyer_paid_is_refused_without_calling_capture(stripe_provider,
                                                                         fake):
    started = stripe_provider.create_session(session_request())
    with pytest.raises(ProviderError) as refused:
        stripe_provider.capture(started.reference, 100, key())
    assert (refused.value.code, refused.value.executed) == ("payment_intent_missing", False)
    assert not [c for c in fake.calls if c[1].endswith("/capture")]


def test_find_by_reference_pages_through_recent_sessions(stripe_provider, fake, monkeypatch):
    monkeypatch.setattr(stripe_client, "FIND_PAGE_SIZE", 2)
    wanted = session_request()
    found_ref = stripe_provider.create_session(wanted).reference
    for _ in range(4):  # newer sessions push ours onto a later page
        stripe_provider.create_session(session_request())
    found = stripe_provider.find_by_reference(wanted.reference)
    assert found is not None and found.reference == found_ref
    assert stripe_provider.find_by_reference("hf_never_created") is None
    assert len([c for c in fake.calls if c[:2] == ("GET", "/v1/checkout/sessions")]) >= 3


def test_retrieve_accepts_a_payment_intent_id(stripe_provider, fake):
    reference = _authorized(stripe_provider, fake)
    intent_id = fake.objects[reference]["payment_intent"]
    report = stripe_provider.retrieve(intent_id)
    assert (report.reference, report.status) == (intent_id, S.AUTHORIZED)


def test_dispute_on_capture_then_evidence_then_won(stripe_provider, fake):
    reference = _authorized(stripe_provider, fake, card="4000000000000259")
    stripe_provider.capture(reference, 2500, key())
    dispute_id = fake.events_of("charge.dispute.created")[0]["data"]["object"]["id"]
    opened = stripe_provider.retrieve_dispute(dispute_id)
    assert (opened.status, opened.payment_reference, opened.amount, opened.fee_amount) == (
        "needs_response", reference, 2500, 1500)
    assert opened.due_by is not None and not opened.evidence_submitted
    evidence = {"uncategorized_text": "Delivered, signed for.", "shipping_tracking_number": "1Z"}
    submitted = stripe_provider.submit_dispute_evidence(dispute_id, evidence)
    assert (submitted.status, submitted.evidence_submitted) == ("under_review", True)
    assert fake.objects[dispute_id]["evidence"]["shipping_tracking_number"] == "1Z"
    # A retry of the same submission replays Stripe's answer instead of failing.
    assert stripe_provider.submit_dispute_evidence(dispute_id, evidence) == submitted
    close(fake, dispute_id, "won")
    won = stripe_provider.retrieve_dispute(dispute_id)
    assert (won.status, won.fee_returned_if_won) == ("won", True)


def test_evidence_can_be_saved_without_submitting_and_a_lost_dispute_is_lost(stripe_provider,
                                                                            fake):
    reference = _authorized(stripe_provider, fake, card="4000000000000259")
    stripe_provider.capture(reference, 2500, key())
    dispute_id = fake.events_of("charge.dispute.created")[0]["data"]["object"]["id"]
    draft = stripe_provider.submit_dispute_evidence(dispute_id, {"product_description": "r"},
                                                    submit=False)
    assert (draft.status, draft.evidence_submitted) == ("needs_response", False)
    close(fake, dispute_id, "lost")
    assert stripe_provider.retrieve_dispute(dispute_id).status == "lost"
    with pytest.raises(ProviderError) as refused:
        stripe_provider.submit_dispute_evidence(dispute_id, {"product_description": "late"})
    assert refused.value.executed is False


def test_every_post_carries_an_idempotency_key(stripe_provider, fake):
    reference = _authorized(stripe_provider, fake, card="4000000000000259")
    stripe_provider.capture(reference, 2000, key())
    stripe_provider.refund(reference, 100, key())
    dispute_id = fake.events_of("charge.dispute.created")[0]["data"]["object"]["id"]
    stripe_provider.submit_dispute_evidence(dispute_id, {"product_description": "r"})
    stripe_provider.cancel(stripe_provider.create_session(session_request()).reference, key())
    posts = [c for c in fake.calls if c[0] == "POST"]
    assert len(posts) >= 5 and all(c[2] for c in posts)


def test_from_config_needs_a_secret_key_and_splits_webhook_secrets():
    base = {"PSP_TIMEOUT_SECONDS": 3.0, "WEBHOOK_TOLERANCE_SECONDS": 300}
    assert from_config({**base, "STRIPE_SECRET_KEY": ""}) is None
    provider = from_config({**base, "STRIPE_SECRET_KEY": API_KEY,
                            "STRIPE_WEBHOOK_SECRET": "whsec_new, whsec_old,",
                            "STRIPE_API_BASE": "http://127.0.0.1:9"})
    assert provider.webhook_secrets == ["whsec_new", "whsec_old"]
    assert API_KEY not in repr(provider)


def test_production_refuses_a_stripe_key_without_a_webhook_secret():
    from config import ConfigError, ProductionConfig

    settings = {"SECRET_KEY": "k" * 32, "SANDBOX_WEBHOOK_SECRET": "s" * 32,
                "ENCRYPTION_KEY": "e" * 32, "AUDIT_KEY": "a" * 32, "STATEMENT_SIGNING_KEY": "t" * 32,
                "SQLALCHEMY_DATABASE_URI": "postgresql://x/y",
                "SANDBOX_API_KEY": "sk_live_real_enough", "STRIPE_SECRET_KEY": "sk_live_x",
                "STRIPE_WEBHOOK_SECRET": ""}
    with pytest.raises(ConfigError, match="STRIPE_WEBHOOK_SECRET"):
        ProductionConfig.check(settings)
    assert ProductionConfig.check({**settings, "STRIPE_WEBHOOK_SECRET": "whsec_live"})


def test_stripe_declares_its_checkout_and_stripe_js_origins():
    from app.providers.stripe import StripeProvider

    real = StripeProvider("sk_test_x", []).browser_origins()
    assert real.hosted == ("https://checkout.stripe.com",)
    assert real.scripts == ("https://js.stripe.com",)
    assert real.frames == ("https://js.stripe.com", "https://hooks.stripe.com")
    assert real.connects == ("https://api.stripe.com",)
    # The offline stand-ins: their own origin only, none of Stripe's.
    fake = StripeProvider("sk_test_x", [], checkout_url="http://127.0.0.1:8123/c/pay",
                          js_url="http://127.0.0.1:8124/v3/").browser_origins()
    assert fake.hosted == ("http://127.0.0.1:8123",)
    assert fake.scripts == fake.frames == ("http://127.0.0.1:8124",)
    assert fake.connects == ()

@pytest.mark.parametrize("card, level", [("4242424242424242", "normal"),
                                         ("4000000000009235", "elevated"),
                                         ("4000000000004954", "highest")])
def test_radar_risk_level_and_card_fingerprint_are_reported(stripe_provider, fake, card, level):
    reference = _authorized(stripe_provider, fake, card=card)
    report = stripe_provider.retrieve(reference)
    assert report.status == S.AUTHORIZED and report.risk_level == level
    assert report.card.fingerprint == f"fp{card[-8:]}" and report.card.country == "US"


def test_three_d_secure_on_request_challenges_an_ordinary_card(stripe_provider, fake):
    from dataclasses import replace

    started = stripe_provider.create_session(replace(session_request(),
                                                     request_three_d_secure=True))
    assert pay_session(fake, started.reference, challenge_passed=None) == "requires_action"
    assert stripe_provider.retrieve(started.reference).status == S.REQUIRES_ACTION
