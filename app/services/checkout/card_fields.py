"""Paying in the PSP's card fields on our own page (mode "fields", SAQ A-EP).

The PSP's versioned script mounts card number, expiry and CVC as PSP-origin iframes in our
form and gives the page a single-use token; the page posts only that token to us; we authorize
the payment's session with it, server to server. The card never reaches us. A decline comes
back here and is shown next to the fields; 3-D Secure sends the buyer to the PSP's challenge
and back to our return page, which settles the outcome through the webhook or a re-fetch.

Each PSP's script speaks its own API (CardFields.library): the sandbox's HoldfastFields, Stripe's
split Card Element (the token is a PaymentMethod; authorize_token confirms the PaymentIntent) and
Braintree's Hosted Fields (the token is a nonce; Braintree has no session, so the nonce makes the
sale through services.checkout.nonces, as the Drop-in's does).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from app.domain.declines import DEFAULT_DECLINE_MESSAGE, decline_message
from app.domain.payment_states import PaymentStatus
from app.extensions import db
from app.models import Payment
from app.pci_inventory import pinned_integrity
from app.providers.base import CardFields, ProviderError
from app.providers.registry import get_provider
from app.services.audit import Actor
from app.services.checkout import nonces
from app.services.checkout.checkout import buyer_order
from app.services.errors import Conflict, NotFound, PaymentUnavailable, ServiceError
from app.services.payments import actions, payments

S = PaymentStatus
MODE = "fields"
# A card may be tried while the session waits for one, including after a decline.
PAYABLE = frozenset({S.PROCESSING, S.DECLINED})
FORM_UNAVAILABLE = "The card form cannot be loaded right now. Nothing has been charged; " \
                   "please choose another way to pay."
UNAVAILABLE = "The payment provider is unavailable right now. Nothing has been charged; " \
              "please try again in a moment."


@dataclass(frozen=True)
class FieldsPage:
    """What the page needs: the payment, the PSP's script with its pinned SRI hash (None for
    stripe.js, which Stripe does not version per file: the inventory says why) and what the
    script is authorized with (a publishable key, or Braintree's client token for this page)."""

    payment: Payment
    fields: CardFields
    integrity: str | None
    authorization: str = field(repr=False, default="")


@dataclass(frozen=True)
class Outcome:
    """Where the buyer goes after a token was tried: the return page ("paid"), the PSP's
    3-D Secure page ("action", redirect_url), or back to the fields: "declined" (the payment
    records the reason) or "retry" (the token could not be used; `message` says why)."""

    kind: str
    redirect_url: str | None = None
    message: str | None = None


def order_payment(order_id: int, buyer_id: int) -> Payment | None:
    """The buyer's order's current payment (another buyer's order: NotFound)."""
    return buyer_order(order_id, buyer_id).current_payment


def is_fields_payment(payment: Payment | None) -> bool:
    """Whether a payment is paid in card fields on our page."""
    return payment is not None and payment.integration_mode == MODE


def payable(payment: Payment) -> bool:
    """Whether the buyer may (still) try a card for this payment."""
    # Braintree has no session: its payment gets a reference from the nonce's sale.
    return is_fields_payment(payment) and payment.state in PAYABLE \
        and (bool(payment.psp_reference) or payment.provider == nonces.PROVIDER)


def page(payment: Payment) -> FieldsPage:
    """The PSP's card fields for this payment; PaymentUnavailable when its PSP has none here
    or the script is not in our reviewed inventory (an unreviewed script never runs)."""
    try:
        fields = get_provider(payment.provider).card_fields()
    except KeyError:
        fields = None
    integrity = pinned_integrity(fields.script_url) if fields else None
    if fields is None or (integrity is None and fields.library != "stripe"):
        raise PaymentUnavailable(FORM_UNAVAILABLE)
    if fields.library == "braintree":
        # A client token per page: it can tokenize a card into a nonce, nothing more.
        return FieldsPage(payment, fields, integrity, nonces.client_token())
    return FieldsPage(payment, fields, integrity, fields.publishable_key)


def token_key(payment: Payment, token: str) -> str:
    """The authorize call's idempotency key: one per token (a token pays once), so the same
    form posted twice is one authorization and a new card after a decline is a new call."""
    return actions.action_key(payment, "fields:" + hashlib.sha256(token.encode()).hexdigest()[:24])


def pay(order_id: int, buyer_id: int, token: str, actor: Actor) -> Outcome:
    """Authorize the order's fields payment with the token from the PSP's fields."""
    payment = order_payment(order_id, buyer_id)
    if not is_fields_payment(payment):
        raise NotFound("No card form payment for this order.")
    if not payable(payment):
        raise Conflict("This payment is no longer waiting for a card.")
    if payment.provider == nonces.PROVIDER:
        return _pay_with_nonce(order_id, buyer_id, token, actor)
    try:
        report = get_provider(payment.provider).authorize_token(
            payment.psp_reference, token, token_key(payment, token))
    except ProviderError as exc:
        return _refused(payment.id, exc, actor)
    payments.apply_report(payment.id, report, "authorized with card fields", actor)
    if report.status == S.REQUIRES_ACTION and report.redirect_url:
        return Outcome("action", redirect_url=report.redirect_url)
    if report.status == S.DECLINED:
        return Outcome("declined", message=report.failure_message or DEFAULT_DECLINE_MESSAGE)
    return Outcome("paid")


def _pay_with_nonce(order_id: int, buyer_id: int, nonce: str, actor: Actor) -> Outcome:
    """Hosted Fields' nonce makes the sale (the Drop-in's path: AUTHORIZING under the row
    lock, our key as order_id); a decline comes back to the fields with its reason."""
    payment_id = nonces.pay_with_nonce(order_id, buyer_id, nonce, actor)
    payment = db.session.get(Payment, payment_id)
    db.session.refresh(payment)
    if payment.state == S.DECLINED:
        return Outcome("declined", message=payment.failure_message or DEFAULT_DECLINE_MESSAGE)
    return Outcome("paid")


def _refused(payment_id: int, exc: ProviderError, actor: Actor) -> Outcome:
    if exc.executed is False and exc.retryable:
        raise PaymentUnavailable(UNAVAILABLE)
    if exc.executed is None:
        # The PSP may have authorized: a re-fetch settles it; the return page follows along.
        payments.schedule_refresh(payment_id, delay_seconds=5)
        return Outcome("paid")
    if exc.decline_code is not None or exc.status == 402:
        # The PSP recorded the decline on the session: its record is the truth.
        actions.refresh(payment_id, actor, cause=f"card fields declined: {exc.code}")
        return Outcome("declined", message=decline_message(exc.decline_code or exc.code))
    if exc.code in ("token_already_used", "token_expired", "resource_missing"):
        return Outcome("retry", message="Your card details have expired. Please enter them "
                                        "again.")
    raise ServiceError("The payment could not be made. Nothing has been charged; please try "
                       "again or choose another way to pay.")
