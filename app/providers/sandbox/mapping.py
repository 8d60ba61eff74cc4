"""Translate between the sandbox PSP's vocabulary and the platform's.

Every sandbox status is mapped explicitly; anything else maps to None, which the payment
service turns into "needs review" — never into success.
"""
from __future__ import annotations

from datetime import UTC, datetime

from app.domain.declines import decline_message
from app.domain.payment_states import PaymentStatus
from app.providers.base import (
    CardDisplay,
    EventKind,
    ProviderDispute,
    ProviderEvent,
    ProviderPayment,
    ProviderPayout,
    ProviderRefund,
    ReusableMethod,
)

S = PaymentStatus

# Our payout's idempotency key rides in the metadata of every payout we create, so its webhook
# is matched even when it beats the submit job to storing the sandbox's id.
PAYOUT_REFERENCE = "holdfast_payout"


def to_psp_currency(currency: str) -> str:
    """Holdfast uses upper-case ISO codes; the sandbox, like Stripe, lower case."""
    return currency.lower()


def from_psp_currency(currency: str) -> str:
    """Back to the platform's upper-case ISO code."""
    return currency.upper()


def map_status(session: dict) -> PaymentStatus | None:
    """The platform status a sandbox payment_session stands for."""
    raw = session.get("status")
    if raw == "open":
        # An open session with an error means the last card was declined or failed 3DS.
        return S.DECLINED if session.get("last_payment_error") else S.PROCESSING
    if raw == "requires_action":
        return S.REQUIRES_ACTION
    if raw == "authorized":
        return S.AUTHORIZED
    if raw == "partially_captured":
        # Multicapture under way: more of the authorization may still be captured. Refunds of
        # the captured part belong to services.refunds, as for a captured session.
        return S.PARTIALLY_CAPTURED
    if raw == "captured":
        captured = session.get("amount_captured", 0)
        refunded = session.get("amount_refunded", 0)
        if refunded and refunded >= captured:
            return S.REFUNDED
        if refunded:
            return S.PARTIALLY_REFUNDED
        return S.CAPTURED
    if raw == "canceled":
        return S.CANCELLED
    if raw == "expired":
        return S.EXPIRED
    return None


def to_provider_payment(session: dict) -> ProviderPayment:
    """A sandbox payment_session as a ProviderPayment."""
    error = session.get("last_payment_error") or {}
    # A declined card is named in the error (Stripe's last_payment_error.payment_method).
    method = session.get("payment_method") or error.get("payment_method") or {}
    fee = session.get("fee") or {}
    code = error.get("decline_code") or error.get("code")
    return ProviderPayment(
        reference=session["id"],
        status=map_status(session),
        raw_status=str(session.get("status")),
        amount=int(session["amount"]),
        currency=from_psp_currency(session["currency"]),
        amount_authorized=int(session.get("amount_authorized") or 0),
        amount_captured=int(session.get("amount_captured") or 0),
        amount_refunded=int(session.get("amount_refunded") or 0),
        redirect_url=session.get("url"),
        embed_url=session.get("embed_url"),
        decline_code=code,
        failure_message=decline_message(code) if error else None,
        fee_amount=fee.get("amount"),
        card=CardDisplay(brand=method.get("brand"), last4=method.get("last4"),
                         fingerprint=method.get("fingerprint"), country=method.get("country"),
                         exp_month=_int(method.get("exp_month")),
                         exp_year=_int(method.get("exp_year"))),
        reusable_method=to_reusable_method(method),
        risk_level=risk_level((session.get("outcome") or {}).get("risk_level")),
    )


# The sandbox's risk levels, as Stripe's outcome.risk_level; anything else is not a verdict.
RISK_LEVELS = {"normal": "normal", "elevated": "elevated", "highest": "highest"}


def _int(value) -> int | None:
    return int(value) if isinstance(value, (int, str)) and str(value).isdigit() else None


def risk_level(raw) -> str | None:
    """The platform's risk level for a sandbox outcome.risk_level (unknown → None)."""
    return RISK_LEVELS.get(raw) if isinstance(raw, str) else None


def to_reusable_method(method: dict) -> ReusableMethod | None:
    """A session's `payment_method` that carries an id is saved at the sandbox: reusable."""
    if not method.get("id"):
        return None
    return ReusableMethod(token=method["id"], brand=method["brand"], last4=method["last4"],
                          exp_month=int(method["exp_month"]), exp_year=int(method["exp_year"]),
                          fingerprint=method["fingerprint"])


# Sandbox payout status → platform payout status. Anything else is not success: "needs review".
PAYOUT_STATUSES = {"pending": "in_transit", "paid": "paid", "failed": "failed"}


def to_provider_payout(payout: dict) -> ProviderPayout:
    """A sandbox payout as a ProviderPayout."""
    return ProviderPayout(
        reference=payout["id"],
        status=PAYOUT_STATUSES.get(payout.get("status"), "needs_review"),
        amount=int(payout["amount"]),
        currency=from_psp_currency(payout["currency"]),
        failure_code=payout.get("failure_code"),
        failure_message=payout.get("failure_message"),
    )


# Sandbox event type prefix → what the event is about.
EVENT_KINDS = {"payment_session.": EventKind.PAYMENT, "payout.": EventKind.PAYOUT,
               "refund.": EventKind.REFUND, "dispute.": EventKind.DISPUTE}


def event_kind(event_type: str) -> EventKind:
    """The kind of a sandbox event type; types we don't know are OTHER (recorded, ignored)."""
    for prefix, kind in EVENT_KINDS.items():
        if event_type.startswith(prefix):
            return kind
    return EventKind.OTHER


def to_event(provider: str, event_id: str, event_type: str, object_id: str | None,
             payload: dict) -> ProviderEvent:
    """A sandbox event in common form: its kind and, on a payout's, our payout key."""
    kind = event_kind(event_type)
    ours = None
    if kind == EventKind.PAYOUT:
        obj = (payload.get("data") or {}).get("object") or {}
        ours = (obj.get("metadata") or {}).get(PAYOUT_REFERENCE) if isinstance(obj, dict) else None
    return ProviderEvent(provider=provider, event_id=event_id, type=event_type,
                         object_id=object_id, payload=payload, kind=kind, our_reference=ours)


# Sandbox refund status → platform refund status. Anything else: "needs_review".
REFUND_STATUSES = {"pending": "pending", "succeeded": "succeeded", "failed": "failed"}


def to_provider_refund(refund: dict) -> ProviderRefund:
    """A sandbox refund as a ProviderRefund."""
    return ProviderRefund(
        reference=refund["id"],
        payment_reference=refund["payment_session"],
        status=REFUND_STATUSES.get(refund.get("status"), "needs_review"),
        amount=int(refund["amount"]),
        currency=from_psp_currency(refund["currency"]),
        failure_reason=refund.get("failure_reason"),
    )


# Sandbox dispute status → platform chargeback status. Anything else: "needs_review".
DISPUTE_STATUSES = {"needs_response": "needs_response", "under_review": "under_review",
                    "won": "won", "lost": "lost"}


def to_provider_dispute(dispute: dict) -> ProviderDispute:
    """A sandbox dispute as a ProviderDispute (the sandbox returns the fee on a won dispute)."""
    details = dispute.get("evidence_details") or {}
    due_by = details.get("due_by")
    return ProviderDispute(
        reference=dispute["id"],
        payment_reference=dispute["payment_session"],
        status=DISPUTE_STATUSES.get(dispute.get("status"), "needs_review"),
        raw_status=str(dispute.get("status")),
        amount=int(dispute["amount"]),
        currency=from_psp_currency(dispute["currency"]),
        fee_amount=int((dispute.get("fee") or {}).get("amount") or 0),
        fee_returned_if_won=True,
        reason=str(dispute.get("reason") or "general"),
        due_by=(datetime.fromtimestamp(int(due_by), UTC).replace(tzinfo=None)
                if due_by else None),
        evidence_submitted=int(details.get("submission_count") or 0) > 0,
    )
