"""Translate between Stripe's objects and the platform's terms.

Every Stripe status the platform can meet is mapped explicitly; anything else maps to None or
"needs_review" — never to success. Stripe speaks lower-case currencies and minor units, as we do.
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

# Our references ride in the metadata of every object we create, so a lost answer can be found
# again and a webhook can be matched before we stored the PSP's id.
REFERENCE_KEY = "holdfast_reference"  # on sessions and PaymentIntents: our payment reference
PAYOUT_KEY = "holdfast_payout"        # on transfers: our payout's idempotency key

# PaymentIntent status → platform status (succeeded and canceled need more facts, below).
INTENT_STATUSES = {
    "requires_payment_method": S.PROCESSING,  # DECLINED when it carries last_payment_error
    "requires_confirmation": S.PROCESSING,
    "requires_action": S.REQUIRES_ACTION,
    "processing": S.AUTHORIZING,
    "requires_capture": S.AUTHORIZED,
    "succeeded": S.CAPTURED,
    "canceled": S.CANCELLED,
}
# Checkout Session status → platform status while no PaymentIntent decides.
SESSION_STATUSES = {"open": S.PROCESSING, "expired": S.EXPIRED}
# Stripe cancels an uncaptured authorization by itself when it lapses: that is an expiry.
EXPIRY_CANCELLATIONS = frozenset({"automatic", "abandoned"})


def to_psp_currency(currency: str) -> str:
    """Holdfast's upper-case ISO code as Stripe wants it."""
    return currency.lower()


def intent_status(intent: dict) -> PaymentStatus | None:
    """The platform status a PaymentIntent stands for (None: unknown → needs review)."""
    raw = intent.get("status")
    if raw == "requires_payment_method" and intent.get("last_payment_error"):
        return S.DECLINED
    if raw == "canceled" and intent.get("cancellation_reason") in EXPIRY_CANCELLATIONS:
        return S.EXPIRED
    if raw == "succeeded":
        refunded, captured = refunded_amount(_charge(intent)), _captured(intent)
        if captured and refunded >= captured:
            return S.REFUNDED
        return S.PARTIALLY_REFUNDED if refunded else S.CAPTURED
    return INTENT_STATUSES.get(raw)


def session_status(session: dict, intent: dict | None) -> PaymentStatus | None:
    """A Checkout Session's status, decided by its PaymentIntent once there is one."""
    raw = session.get("status")
    if intent is not None and raw in ("open", "complete", "expired"):
        status = intent_status(intent)
        if raw == "expired" and status in (S.PROCESSING, S.DECLINED, S.CANCELLED):
            return S.EXPIRED
        return status
    if raw == "complete":
        return None  # complete without a PaymentIntent: not a state we should ever see
    return SESSION_STATUSES.get(raw)


def _charge(intent: dict | None) -> dict:
    charge = (intent or {}).get("latest_charge")
    return charge if isinstance(charge, dict) else {}


def _captured(intent: dict) -> int:
    charge = _charge(intent)
    return int(charge.get("amount_captured") or intent.get("amount_received") or 0)


def refunded_amount(charge: dict) -> int:
    """Money returned to the buyer: after a partial capture Stripe counts the uncaptured rest
    as refunded on the charge, which is not a refund of ours."""
    if not charge:
        return 0
    released = charge["amount"] - charge["amount_captured"] if charge.get("captured") else 0
    return max(0, int(charge.get("amount_refunded") or 0) - released)


# Stripe error codes that are not decline codes → the platform's words for them.
FAILURE_CODES = {"payment_intent_authentication_failure": "authentication_failed"}


# Radar's outcome.risk_level → the platform's; "not_assessed" and "unknown" are no verdict.
RISK_LEVELS = {"normal": "normal", "elevated": "elevated", "highest": "highest",
               "not_assessed": None, "unknown": None}


def to_provider_payment(session: dict | None, intent: dict | None) -> ProviderPayment:
    """A Checkout Session (hosted) and/or its PaymentIntent as a ProviderPayment; an embedded
    payment is its PaymentIntent alone (session None)."""
    if isinstance(intent, str):
        intent = None
    base = session or intent
    charge = _charge(intent)
    error = (intent or {}).get("last_payment_error") or {}
    code = error.get("decline_code") or FAILURE_CODES.get(error.get("code"), error.get("code"))
    card = ((charge.get("payment_method_details") or {}).get("card")) or {}
    balance = charge.get("balance_transaction")
    status = session_status(session, intent) if session else intent_status(intent)
    raw = (intent or {}).get("status") or session.get("status")
    amount = int(base.get("amount_total") or base.get("amount") or 0) if session \
        else int(intent["amount"])
    authorized = int(intent["amount"]) if intent and intent.get("status") in (
        "requires_capture", "succeeded") else 0
    return ProviderPayment(
        reference=base["id"],
        status=status,
        raw_status=f"{session['status']}/{raw}" if session else str(raw),
        amount=amount,
        currency=str(base["currency"]).upper(),
        amount_authorized=authorized,
        amount_captured=_captured(intent) if intent and intent.get("status") == "succeeded"
        else 0,
        amount_refunded=refunded_amount(charge),
        redirect_url=(session or {}).get("url") if (session or {}).get("status") == "open"
        else _action_url(intent),
        decline_code=code,
        failure_message=decline_message(code) if error else None,
        fee_amount=int(balance["fee"]) if isinstance(balance, dict) else None,
        card=CardDisplay(brand=card.get("brand"), last4=card.get("last4"),
                         fingerprint=card.get("fingerprint"), country=card.get("country"),
                         exp_month=card.get("exp_month"), exp_year=card.get("exp_year")),
        risk_level=RISK_LEVELS.get((charge.get("outcome") or {}).get("risk_level")),
        reusable_method=_reusable(intent, card) if authorized else None,
        # Only an embedded payment's own PaymentIntent: stripe.js confirms it on our page.
        client_secret=(intent or {}).get("client_secret") if session is None else None,
    )


def _action_url(intent: dict | None) -> str | None:
    """Where 3-D Secure takes the buyer when our server confirmed (next_action redirect)."""
    if not intent or intent.get("status") != "requires_action":
        return None
    action = intent.get("next_action") or {}
    if action.get("type") != "redirect_to_url":
        return None
    return (action.get("redirect_to_url") or {}).get("url")


def _reusable(intent: dict, card: dict) -> ReusableMethod | None:
    """The card a payment saved (setup_future_usage with a Customer): its token is the
    Customer and PaymentMethod ids, both needed to pay with it off-session."""
    customer, method = intent.get("customer"), intent.get("payment_method")
    customer = customer.get("id") if isinstance(customer, dict) else customer
    method = method.get("id") if isinstance(method, dict) else method
    if intent.get("setup_future_usage") != "off_session" or not customer or not method:
        return None
    if not (card.get("last4") and card.get("exp_month") and card.get("exp_year")):
        return None
    return ReusableMethod(token=f"{customer}/{method}", brand=str(card.get("brand") or "card"),
                          last4=str(card["last4"]), exp_month=int(card["exp_month"]),
                          exp_year=int(card["exp_year"]),
                          fingerprint=str(card.get("fingerprint") or method))


# Stripe refund status → platform refund status.
REFUND_STATUSES = {"pending": "pending", "requires_action": "pending",
                   "succeeded": "succeeded", "failed": "failed", "canceled": "failed"}


def to_provider_refund(refund: dict, payment_reference: str) -> ProviderRefund:
    """A Stripe refund; `payment_reference` is the platform's psp_reference of the payment."""
    return ProviderRefund(
        reference=refund["id"], payment_reference=payment_reference,
        status=REFUND_STATUSES.get(refund.get("status"), "needs_review"),
        amount=int(refund["amount"]), currency=str(refund["currency"]).upper(),
        failure_reason=refund.get("failure_reason"))


# Stripe dispute status → platform chargeback status. The warning_* ones are inquiries
# (no money withdrawn yet) but need the same answer from us before due_by.
DISPUTE_STATUSES = {"warning_needs_response": "needs_response",
                    "needs_response": "needs_response",
                    "warning_under_review": "under_review", "under_review": "under_review",
                    "warning_closed": "won", "won": "won", "lost": "lost",
                    "prevented": "won"}


def to_provider_dispute(dispute: dict, payment_reference: str,
                        fee_returned_if_won: bool) -> ProviderDispute:
    """A Stripe dispute. The fee is what the withdrawal balance transaction took on top of the
    amount; whether a win returns it is read from the reinstatement when there is one."""
    movements = [bt for bt in dispute.get("balance_transactions") or []
                 if isinstance(bt, dict)]
    fee = sum(int(bt.get("fee") or 0) for bt in movements if int(bt.get("fee") or 0) > 0)
    reinstated = [bt for bt in movements if int(bt.get("amount") or 0) > 0]
    if reinstated:
        fee_returned_if_won = any(int(bt.get("fee") or 0) < 0 for bt in reinstated)
    details = dispute.get("evidence_details") or {}
    due_by = details.get("due_by")
    return ProviderDispute(
        reference=dispute["id"], payment_reference=payment_reference,
        status=DISPUTE_STATUSES.get(dispute.get("status"), "needs_review"),
        raw_status=str(dispute.get("status")), amount=int(dispute["amount"]),
        currency=str(dispute["currency"]).upper(), fee_amount=fee,
        fee_returned_if_won=fee_returned_if_won,
        reason=str(dispute.get("reason") or "general"),
        due_by=(datetime.fromtimestamp(int(due_by), UTC).replace(tzinfo=None)
                if due_by else None),
        evidence_submitted=int(details.get("submission_count") or 0) > 0)


# A connected account's payout status → platform payout status; anything else: needs review.
CONNECT_PAYOUT_STATUSES = {"pending": "in_transit", "in_transit": "in_transit", "paid": "paid",
                           "failed": "failed", "canceled": "failed"}


def connect_payout(transfer: dict, bank: dict | None,
                   failure: tuple[str | None, str] | None = None) -> ProviderPayout:
    """A seller's Connect payout: the Transfer to their connected account (`reference`) and
    that account's payout to the bank (`rail_reference`), which decides the status. No bank
    payout found yet: still in transit (the transfer moved the money into Stripe)."""
    status, code, message = "in_transit", None, None
    if failure is not None:
        status, (code, message) = "failed", failure
    elif bank is not None:
        status = CONNECT_PAYOUT_STATUSES.get(str(bank.get("status")), "needs_review")
        code, message = bank.get("failure_code"), bank.get("failure_message")
    return ProviderPayout(reference=transfer["id"], status=status,
                          amount=int(transfer["amount"]),
                          currency=str(transfer["currency"]).upper(), failure_code=code,
                          failure_message=message,
                          rail_reference=bank["id"] if bank is not None else None)


# Stripe event types → what they are about. Exact types first, then prefixes.
EVENT_TYPES = {"charge.refunded": EventKind.OTHER,          # the refund.* events carry it
               "charge.refund.updated": EventKind.REFUND}
EVENT_PREFIXES = (("checkout.session.", EventKind.PAYMENT),
                  ("payment_intent.", EventKind.PAYMENT),
                  ("charge.dispute.", EventKind.DISPUTE),
                  ("refund.", EventKind.REFUND),
                  ("charge.", EventKind.PAYMENT),
                  ("transfer.", EventKind.PAYOUT),
                  ("payout.", EventKind.OTHER))  # the platform's own bank payouts: Stripe's


def event_kind(event_type: str) -> EventKind:
    """The kind of a Stripe event type; types we don't know are OTHER (recorded, 2xx)."""
    if event_type in EVENT_TYPES:
        return EVENT_TYPES[event_type]
    for prefix, kind in EVENT_PREFIXES:
        if event_type.startswith(prefix):
            return kind
    return EventKind.OTHER


# Which metadata key carries our reference, by the kind of object an event is about.
OUR_KEYS = {EventKind.PAYMENT: REFERENCE_KEY, EventKind.PAYOUT: PAYOUT_KEY}


def to_event(event_id: str, event_type: str, object_id: str | None, payload: dict,
             inbox_body: str | None = None) -> ProviderEvent:
    """A Stripe event in common form: its kind and our reference from its object's metadata."""
    kind = event_kind(event_type)
    if event_type.startswith("payout.") and payload.get("account"):
        # A Connect event (Stripe names the connected account): a seller's payout to the bank.
        kind = EventKind.PAYOUT
    obj = (payload.get("data") or {}).get("object") or {}
    metadata = (obj.get("metadata") or {}) if isinstance(obj, dict) else {}
    ours = metadata.get(OUR_KEYS[kind]) if kind in OUR_KEYS else None
    return ProviderEvent(provider="stripe", event_id=event_id, type=event_type,
                         object_id=object_id, payload=payload, inbox_body=inbox_body, kind=kind,
                         our_reference=ours)
