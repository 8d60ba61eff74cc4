"""Paying in Stripe's Payment Element (embedded mode): what the buyer's page needs to mount it.

The PaymentIntent exists from the start (its id is the payment's psp_reference); stripe.js on
our page confirms it with the intent's client_secret. That secret is never stored or logged:
it is read from Stripe each time the page is rendered and lives only in that page. The outcome
comes back the usual way — signed payment_intent.* webhooks and a re-fetch — never from the
browser.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app, url_for

from app.domain.payment_states import PaymentStatus
from app.models import Payment
from app.providers.base import ProviderError
from app.providers.registry import get_provider
from app.services.checkout.checkout import buyer_order, public_url
from app.services.errors import Conflict, PaymentUnavailable

S = PaymentStatus
PROVIDER = "stripe"
# A card may be confirmed while the intent waits for one, including after a decline.
PAYABLE = frozenset({S.PROCESSING, S.DECLINED})
UNAVAILABLE = "The card form cannot be loaded right now. Nothing has been charged; please try " \
              "again in a moment."


@dataclass(frozen=True)
class ElementSession:
    """What the page hands to stripe.js: the publishable key, the intent's client secret and
    where Stripe sends the buyer afterwards."""

    publishable_key: str
    client_secret: str = field(repr=False)
    return_url: str


def is_element_payment(payment: Payment | None) -> bool:
    """Whether a payment is paid in Stripe's Payment Element."""
    return payment is not None and payment.provider == PROVIDER \
        and payment.integration_mode == "embedded"


def order_payment(order_id: int, buyer_id: int) -> Payment | None:
    """The buyer's order's current payment (another buyer's order: NotFound)."""
    return buyer_order(order_id, buyer_id).current_payment


def payable(payment: Payment) -> bool:
    """Whether the buyer may (still) confirm a card for this payment."""
    return is_element_payment(payment) and payment.state in PAYABLE \
        and bool(payment.psp_reference)


def element_session(payment: Payment) -> ElementSession:
    """Read the PaymentIntent's client secret from Stripe for this render (nothing stored).
    PaymentUnavailable when Stripe cannot be asked; Conflict when the intent no longer waits
    for a card."""
    key = current_app.config.get("STRIPE_PUBLISHABLE_KEY") or ""
    if not key.startswith("pk_"):
        raise PaymentUnavailable(UNAVAILABLE)
    try:
        report = get_provider(PROVIDER).retrieve(payment.psp_reference)
    except ProviderError:
        raise PaymentUnavailable(UNAVAILABLE) from None
    if report.status not in PAYABLE or not report.client_secret:
        # Paid, cancelled or in 3-D Secure meanwhile: the return page follows it from here.
        raise Conflict("This payment is no longer waiting for a card.")
    return ElementSession(publishable_key=key, client_secret=report.client_secret,
                          return_url=public_url(url_for("checkout.returned",
                                                        order_id=payment.order_id)))
