"""Translate between Braintree's vocabulary and the platform's.

Every Braintree transaction and dispute status is mapped explicitly; a status not listed maps to
None ("needs review"), never to success. Amounts cross the border here only: Braintree speaks
decimal strings in major units, Holdfast integer minor units.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from app.domain.declines import decline_message
from app.domain.money import Money, exponent, to_decimal_string
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


def _number(value) -> int | None:
    """Braintree's "04" / "2030" as an int; anything else None."""
    return int(value) if isinstance(value, (int, str)) and str(value).isdigit() else None


def to_amount(amount: int, currency: str) -> str:
    """1234 EUR → "12.34" (what Braintree's amount fields take)."""
    return to_decimal_string(Money(amount, currency))


def from_amount(value, currency: str) -> int:
    """Braintree's decimal amount → integer minor units; refuses anything inexact."""
    try:
        scaled = Decimal(str(value)).scaleb(exponent(currency))
    except InvalidOperation:
        raise ValueError(f"not an amount: {value!r}") from None
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{value!r} is finer than a minor unit of {currency}")
    return int(scaled)


# Braintree transaction status → platform status (before refunds are counted).
TRANSACTION_STATUSES: dict[str, PaymentStatus | None] = {
    "authorizing": S.AUTHORIZING,
    "authorized": S.AUTHORIZED,
    "authorization_expired": S.EXPIRED,
    # Captured: Braintree settles in batches; the money is ours to refund once settled.
    "submitted_for_settlement": S.CAPTURED,
    "settlement_pending": S.CAPTURED,
    "settling": S.CAPTURED,
    "settled": S.CAPTURED,
    "settlement_confirmed": S.CAPTURED,
    "voided": S.CANCELLED,
    "processor_declined": S.DECLINED,
    "gateway_rejected": S.DECLINED,
    "failed": S.FAILED,
    # The bank refused the capture after we had it as captured: no move the platform can make
    # by itself (CAPTURED → FAILED is not a transition); support must look.
    "settlement_declined": None,
    "settlement_failed": None,
}
CAPTURED_STATUSES = frozenset(k for k, v in TRANSACTION_STATUSES.items() if v == S.CAPTURED)

# Braintree processor response code → the platform's decline codes (shared buyer wording).
DECLINE_CODES = {
    "2000": "generic_decline", "2001": "insufficient_funds", "2002": "insufficient_funds",
    "2004": "expired_card", "2005": "incorrect_number", "2010": "incorrect_cvc",
    "2014": "fraudulent", "2046": "card_declined", "2047": "fraudulent",
    "3000": "processing_error",
}


def decline_code(txn) -> str | None:
    """The platform decline code of a declined, rejected or failed transaction."""
    status = getattr(txn, "status", None)
    if status == "gateway_rejected":
        reason = getattr(txn, "gateway_rejection_reason", None)
        return "fraudulent" if reason == "fraud" else "card_declined"
    if status in ("processor_declined", "failed"):
        code = str(getattr(txn, "processor_response_code", "") or "")
        return DECLINE_CODES.get(code, "card_declined" if status != "failed"
                                 else "processing_error")
    return None


def map_status(raw_status: str, amount: int, refunded: int) -> PaymentStatus | None:
    """The platform status of a Braintree sale with `refunded` of `amount` refunded."""
    status = TRANSACTION_STATUSES.get(raw_status)
    if status == S.CAPTURED and refunded:
        return S.REFUNDED if refunded >= amount else S.PARTIALLY_REFUNDED
    return status


def to_provider_payment(txn, refunded: int = 0) -> ProviderPayment:
    """A Braintree sale transaction as a ProviderPayment (refunded: sum of its live refunds)."""
    currency = str(txn.currency_iso_code).upper()
    amount = from_amount(txn.amount, currency)
    raw = str(txn.status)
    card = getattr(txn, "credit_card_details", None)
    code = decline_code(txn)
    captured = amount if raw in CAPTURED_STATUSES else 0
    authorized = amount if raw in CAPTURED_STATUSES | {"authorized"} else 0
    return ProviderPayment(
        reference=str(txn.id),
        status=map_status(raw, captured, refunded),
        raw_status=raw,
        amount=amount,
        currency=currency,
        amount_authorized=authorized,
        amount_captured=captured,
        amount_refunded=refunded,
        decline_code=code,
        failure_message=decline_message(code) if code else None,
        card=CardDisplay(brand=getattr(card, "card_type", None),
                         last4=getattr(card, "last_4", None),
                         fingerprint=getattr(card, "unique_number_identifier", None),
                         country=issuing_country(getattr(card, "country_of_issuance", None)),
                         exp_month=_number(getattr(card, "expiration_month", None)),
                         exp_year=_number(getattr(card, "expiration_year", None)))
        if card else CardDisplay(),
        risk_level=RISK_DECISIONS.get(getattr(getattr(txn, "risk_data", None), "decision", None)),
        reusable_method=reusable_method(card) if authorized else None,
    )


def reusable_method(card) -> ReusableMethod | None:
    """The vaulted card of a sale (its payment method token: store_in_vault_on_success, or
    the token it was paid with); None when the card is not in the vault."""
    token = getattr(card, "token", None)
    month = _number(getattr(card, "expiration_month", None))
    year = _number(getattr(card, "expiration_year", None))
    last4 = getattr(card, "last_4", None)
    if not token or not month or not year or not last4:
        return None
    return ReusableMethod(token=str(token),
                          brand=str(getattr(card, "card_type", None) or "card").lower(),
                          last4=str(last4), exp_month=month, exp_year=year,
                          fingerprint=str(getattr(card, "unique_number_identifier", None)
                                          or token))


# Braintree's risk_data.decision → the platform's risk level; anything else: no verdict.
RISK_DECISIONS = {"Approve": "normal", "Review": "elevated", "Decline": "highest"}
# Braintree reports the issuing country as ISO 3166-1 alpha-3 ("Unknown" when it does not
# know); the platform keeps alpha-2. Countries not listed map to None (no signal, no guess).
ALPHA3 = {"USA": "US", "CAN": "CA", "GBR": "GB", "IRL": "IE", "DEU": "DE", "FRA": "FR",
          "NLD": "NL", "BEL": "BE", "LUX": "LU", "ESP": "ES", "PRT": "PT", "ITA": "IT",
          "AUT": "AT", "CHE": "CH", "SWE": "SE", "NOR": "NO", "DNK": "DK", "FIN": "FI",
          "POL": "PL", "CZE": "CZ", "BRA": "BR", "MEX": "MX", "AUS": "AU", "NZL": "NZ",
          "JPN": "JP", "IND": "IN", "CHN": "CN", "SGP": "SG", "HKG": "HK", "ZAF": "ZA"}


def issuing_country(raw) -> str | None:
    """A Braintree country_of_issuance (alpha-3) as alpha-2, or None."""
    return ALPHA3.get(raw) if isinstance(raw, str) else None


# A refund is a credit transaction. Braintree counts it as issued once submitted.
REFUND_STATUSES = {
    "submitted_for_settlement": "succeeded", "settlement_pending": "succeeded",
    "settling": "succeeded", "settled": "succeeded", "settlement_confirmed": "succeeded",
    "authorizing": "pending", "authorized": "pending", "authorization_expired": "failed",
    "voided": "failed", "processor_declined": "failed", "gateway_rejected": "failed",
    "failed": "failed", "settlement_declined": "failed", "settlement_failed": "failed",
}
LIVE_REFUND = frozenset(k for k, v in REFUND_STATUSES.items() if v in ("succeeded", "pending"))


def to_provider_refund(credit) -> ProviderRefund:
    """A Braintree credit transaction as a ProviderRefund."""
    currency = str(credit.currency_iso_code).upper()
    status = REFUND_STATUSES.get(str(credit.status), "needs_review")
    return ProviderRefund(
        reference=str(credit.id),
        payment_reference=str(getattr(credit, "refunded_transaction_id", "") or ""),
        status=status,
        amount=from_amount(credit.amount, currency),
        currency=currency,
        failure_reason=str(credit.status) if status == "failed" else None,
    )


# Braintree dispute status → platform chargeback status.
DISPUTE_STATUSES = {
    "open": "needs_response",
    "disputed": "under_review",      # we finalized our response; the bank is deciding
    "under_review": "under_review",
    "won": "won",
    "lost": "lost",
    "accepted": "lost",              # conceded (in the Control Panel): the buyer keeps the money
    "auto_accepted": "lost",
    "expired": "lost",               # no response before reply_by_date: the buyer keeps it
}
# "If the merchant wins the case, the transaction amount will be returned ... the associated
# processing fee will not be refunded" (PayPal help, Braintree chargebacks).
FEE_RETURNED_IF_WON = False


def to_provider_dispute(dispute, fee_amount: int) -> ProviderDispute:
    """A Braintree dispute as a ProviderDispute; Braintree's API does not state its fee, so
    the configured per-dispute fee is used."""
    currency = str(dispute.currency_iso_code).upper()
    amount = getattr(dispute, "amount_disputed", None) or dispute.amount
    reply_by = getattr(dispute, "reply_by_date", None)
    if isinstance(reply_by, date) and not isinstance(reply_by, datetime):
        reply_by = datetime(reply_by.year, reply_by.month, reply_by.day)
    txn = getattr(dispute, "transaction", None)
    raw = str(dispute.status)
    return ProviderDispute(
        reference=str(dispute.id),
        payment_reference=str(getattr(txn, "id", "") or ""),
        status=DISPUTE_STATUSES.get(raw, "needs_review"),
        raw_status=raw,
        amount=from_amount(amount, currency),
        currency=currency,
        fee_amount=fee_amount,
        fee_returned_if_won=FEE_RETURNED_IF_WON,
        reason=str(getattr(dispute, "reason", None) or "general"),
        due_by=reply_by if isinstance(reply_by, datetime) else None,
        # Finalized: Braintree moves the dispute out of "open" once our response is sent.
        evidence_submitted=raw in ("disputed", "under_review")
        or (raw in ("won", "lost") and bool(getattr(dispute, "evidence", None))),
    )


# Webhook kind → what it is about.
EVENT_KINDS = {
    "transaction_settled": EventKind.PAYMENT,
    "transaction_settlement_declined": EventKind.PAYMENT,
    "transaction_disbursed": EventKind.PAYMENT,
    "refund_failed": EventKind.REFUND,
    "dispute_opened": EventKind.DISPUTE, "dispute_under_review": EventKind.DISPUTE,
    "dispute_disputed": EventKind.DISPUTE, "dispute_won": EventKind.DISPUTE,
    "dispute_lost": EventKind.DISPUTE, "dispute_accepted": EventKind.DISPUTE,
    "dispute_auto_accepted": EventKind.DISPUTE, "dispute_expired": EventKind.DISPUTE,
    # Braintree paying a bank: its transaction ids may include a seller payout's credit (its
    # payout handler settles those; the rest is the platform's own money, recorded only). An
    # exception is also logged loudly by the adapter for the operator.
    "disbursement": EventKind.PAYOUT,
    "disbursement_exception": EventKind.PAYOUT,
    "check": EventKind.OTHER,
}


def event_kind(kind: str) -> EventKind:
    """The kind of a Braintree notification; kinds we don't know are OTHER."""
    return EVENT_KINDS.get(kind, EventKind.OTHER)


def to_event(event_id: str, kind: str, subject_id: str | None, payload: dict) -> ProviderEvent:
    """A Braintree notification in common form. Its subject id is the PSP's reference we
    stored (a transaction's, a dispute's): Braintree carries none of ours. A disbursement
    names the transactions it paid out (`related`)."""
    related = tuple(str(t) for t in payload.get("transaction_ids") or ())
    return ProviderEvent(provider="braintree", event_id=event_id, type=kind,
                         object_id=subject_id, payload=payload, kind=event_kind(kind),
                         related=related)


# A seller's payout credit: its transaction status, then its disbursement, decide.
PAYOUT_FAILED = frozenset({"failed", "gateway_rejected", "processor_declined", "voided",
                           "settlement_declined"})
PAYOUT_MOVING = frozenset({"authorized", "submitted_for_settlement", "settling",
                           "settlement_pending", "settled", "settlement_confirmed"})


def to_provider_payout(txn) -> ProviderPayout:
    """A payout credit as a ProviderPayout: failed when Braintree refused it or its
    disbursement failed (`success` false: a disbursement exception), paid once disbursed,
    in transit while it settles; any other status needs review."""
    currency = str(txn.currency_iso_code).upper()
    status, code, message = "needs_review", None, None
    details = getattr(txn, "disbursement_details", None)
    if txn.status in PAYOUT_FAILED:
        status, code = "failed", str(txn.status)
        message = getattr(txn, "processor_response_text", None)
    elif details is not None and getattr(details, "success", None) is False:
        status, code = "failed", str(getattr(details, "exception_code", None)
                                     or "disbursement_exception")
        message = getattr(details, "exception_message", None)
    elif details is not None and details.is_valid:
        status = "paid"
    elif txn.status in PAYOUT_MOVING:
        status = "in_transit"
    return ProviderPayout(reference=str(txn.id), status=status,
                          amount=from_amount(txn.amount, currency), currency=currency,
                          failure_code=code, failure_message=message)
