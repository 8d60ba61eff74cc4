"""Confirming a PaymentIntent from our server (Stripe's card fields mode and saved cards).

Card fields: the split Card Element on our page makes a PaymentMethod (pm_…) in the buyer's
browser; we confirm the payment's PaymentIntent with it, on-session, with the return_url kept in
the intent's metadata, so 3-D Secure answers requires_action with Stripe's page to send the buyer
to (then back to our return page). Saved cards: the Customer and PaymentMethod from the vault,
confirmed off-session first; when the bank wants the buyer (authentication_required), on-session,
and the buyer — who is at our checkout — goes through 3-D Secure. A decline raises the 402 as
a ProviderError (executed, with its decline_code), as every adapter's does.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from app.providers.base import ProviderError, ProviderPayment
from app.providers.stripe import mapping

if TYPE_CHECKING:
    from app.providers.stripe.client import StripeProvider

RETURN_KEY = "holdfast_return_url"  # on fields PaymentIntents: where 3-D Secure sends the buyer
# PaymentIntent statuses in which a card may be confirmed on it (again, after a decline).
CONFIRMABLE_INTENT_STATUSES = frozenset({"requires_payment_method", "requires_confirmation"})
# A saved card's token: "<Customer id>/<PaymentMethod id>" (both are needed off-session).
SAVED_SEPARATOR = "/"
INTENT_EXPAND = ["latest_charge", "latest_charge.balance_transaction"]


def with_payment_method(stripe: StripeProvider, reference: str, token: str,
                        idempotency_key: str) -> ProviderPayment:
    """AUTHORIZED, REQUIRES_ACTION (redirect_url: Stripe's 3-D Secure page), or a 402."""
    if not token.startswith("pm_"):
        raise ProviderError("not a Stripe PaymentMethod", code="resource_missing",
                            status=400, executed=False)
    intent = _confirmable(stripe, reference)
    if intent["status"] not in CONFIRMABLE_INTENT_STATUSES:
        return mapping.to_provider_payment(None, intent)  # a lost answer's outcome stands
    return _confirm(stripe, intent, {"payment_method": token}, idempotency_key)


def with_saved_card(stripe: StripeProvider, reference: str, token: str,
                    idempotency_key: str) -> ProviderPayment:
    """Off-session with the saved card; on-session (REQUIRES_ACTION) when the bank asks."""
    customer, _, method = token.partition(SAVED_SEPARATOR)
    if not (customer.startswith("cus_") and method.startswith("pm_")):
        raise ProviderError("not a saved Stripe card", code="resource_missing", status=400,
                            executed=False)
    intent = _confirmable(stripe, reference)
    if intent["status"] not in CONFIRMABLE_INTENT_STATUSES:
        return mapping.to_provider_payment(None, intent)
    if intent.get("customer") != customer:
        # The same change each time: a retry with the same key repeats it harmlessly.
        stripe._call(stripe._client.v1.payment_intents.update, reference,
                     {"customer": customer}, key=f"{idempotency_key}-customer")
    try:
        return _confirm(stripe, intent, {"payment_method": method, "off_session": True},
                        idempotency_key)
    except ProviderError as exc:
        if exc.code != "authentication_required":
            raise
    # Back on-session: its own key, since the off-session request's answer is kept.
    return _confirm(stripe, intent, {"payment_method": method}, f"{idempotency_key}-on-session")


def _confirmable(stripe: StripeProvider, reference: str) -> dict:
    if not reference.startswith("pi_"):
        raise ProviderError("only a PaymentIntent is confirmed from our server",
                            code="mode_unsupported", executed=False)
    return stripe._call(stripe._client.v1.payment_intents.retrieve, reference,
                        {"expand": INTENT_EXPAND})


def _confirm(stripe: StripeProvider, intent: dict, params: dict,
             idempotency_key: str) -> ProviderPayment:
    params = {**params, "expand": INTENT_EXPAND}
    if not params.get("off_session"):
        return_url = (intent.get("metadata") or {}).get(RETURN_KEY)
        if return_url:
            params["return_url"] = return_url
    confirmed = stripe._call(stripe._client.v1.payment_intents.confirm, intent["id"], params,
                             key=idempotency_key)
    return mapping.to_provider_payment(None, confirmed)
