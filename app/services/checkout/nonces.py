"""Paying Braintree with a nonce (from the Drop-in or Hosted Fields) or a vaulted card's token:
authorize once, then the usual apply_report path.

The buyer's card goes into the PSP's Drop-in frame or Hosted Fields; we receive only a one-time
nonce (or use the token the vault keeps for a saved card). The
payment is marked AUTHORIZING under its row lock before the PSP is called, so a double submit
finds it busy instead of starting a second sale; the sale's order_id is the payment's
idempotency key, so a sale whose answer was lost is found (by the adapter, and by the janitor
through find_by_reference) instead of charged twice.
"""
from __future__ import annotations

from app.database import locked, unit_of_work
from app.domain.declines import decline_message
from app.domain.payment_states import PAID, PaymentStatus
from app.extensions import db
from app.models import Payment
from app.providers.base import ProviderError, ProviderPayment
from app.providers.registry import get_provider
from app.services.audit import Actor
from app.services.checkout import checkout  # the module: checkout imports this one too
from app.services.errors import Conflict, PaymentUnavailable
from app.services.payments import janitor, payments

S = PaymentStatus
PROVIDER = "braintree"
PAYABLE = frozenset({S.PROCESSING, S.DECLINED})
UNAVAILABLE = "The payment provider is unavailable right now. Nothing has been charged; please " \
              "enter your card again in a moment."


def payable_payment(order_id: int, buyer_id: int) -> Payment | None:
    """The order's Braintree payment awaiting a card, or None (another provider, or done)."""
    payment = checkout.buyer_order(order_id, buyer_id).current_payment  # another buyer's: NotFound
    if payment is None or payment.provider != PROVIDER or payment.state not in PAYABLE:
        return None
    return payment


def client_token() -> str:
    """A Drop-in client token (it can tokenize a card, nothing more)."""
    try:
        return get_provider(PROVIDER).client_token()
    except ProviderError:
        raise PaymentUnavailable("The card form cannot be loaded right now. Nothing has been "
                                 "charged; please try again in a moment.") from None


def pay_with_nonce(order_id: int, buyer_id: int, nonce: str, actor: Actor) -> int:
    """Authorize the order's Braintree payment with a Drop-in or Hosted Fields nonce (vaulting
    the card when the buyer asked to save it); the payment's id."""
    payment = checkout.buyer_order(order_id, buyer_id).current_payment
    if payment is None or payment.provider != PROVIDER:
        raise Conflict("This order is not waiting for a card payment.")
    save = payment.save_payment_method

    def sale(key: str, amount: int, currency: str) -> ProviderPayment:
        return get_provider(PROVIDER).authorize_nonce(key, nonce, amount, currency, save=save)

    return _authorize(payment.id, sale, "card nonce submitted", actor)


def pay_with_vaulted(payment_id: int, token: str, actor: Actor) -> int:
    """Authorize a Braintree payment with a saved card's payment method token (opened by
    checkout.pay_with_saved, which read the token from the vault); the payment's id."""

    def sale(key: str, amount: int, currency: str) -> ProviderPayment:
        return get_provider(PROVIDER).authorize_vaulted(key, token, amount, currency)

    return _authorize(payment_id, sale, "saved card submitted", actor)


def _authorize(payment_id: int, sale, cause: str, actor: Actor) -> int:
    with unit_of_work():
        payment = locked(Payment, payment_id)
        if payment.state in PAID:
            return payment.id  # a double submit after the first one went through
        if payment.state not in PAYABLE:
            raise Conflict("This payment is already being processed." if payment.state in
                           (S.AUTHORIZING, S.UNKNOWN) else
                           "This payment can no longer be paid. Please start again.")
        payments.record_change(payment, S.AUTHORIZING, cause, actor)
        payment_id, key = payment.id, payment.idempotency_key
        amount, currency = payment.amount, payment.currency
    try:
        # Outside any transaction: a slow PSP must not hold our locks.
        report = sale(key, amount, currency)
    except ProviderError as exc:
        return _refused(payment_id, exc, actor)
    with unit_of_work():
        locked(Payment, payment_id).psp_reference = report.reference
    payments.apply_report(payment_id, report, f"authorized: {cause}", actor)
    return payment_id


def _refused(payment_id: int, exc: ProviderError, actor: Actor) -> int:
    payment = db.session.get(Payment, payment_id)
    if exc.executed is None:
        # The sale may have happened: UNKNOWN until the janitor finds it by our order_id.
        with unit_of_work():
            payments.record_change(locked(Payment, payment_id), S.UNKNOWN,
                                   f"authorize nonce: {exc.code}", actor)
        janitor.schedule_janitor(payment_id)
        raise PaymentUnavailable("We could not confirm your payment with the payment provider. "
                                 "We are checking and will update this order; please do not "
                                 "pay again.")
    # A decline, or a request Braintree certainly did not act on (bad nonce, outage): the
    # attempt ends DECLINED with words for the buyer, who may enter a card again.
    code = exc.decline_code or ("processing_error" if exc.retryable else "card_declined")
    message = decline_message(exc.decline_code) if exc.executed else (
        UNAVAILABLE if exc.retryable else
        "The card details could not be used. Please enter them again.")
    report = ProviderPayment(reference="", status=S.DECLINED, raw_status=str(exc.code),
                             amount=payment.amount, currency=payment.currency,
                             decline_code=code, failure_message=message)
    payments.apply_report(payment_id, report, f"Drop-in payment refused: {exc.code}", actor)
    return payment_id
