"""From cart to PSP session: place the order, reserve stock, start (or resume) the payment,
or pay with a saved card."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from flask import current_app, url_for

from app.clock import now
from app.database import locked, unit_of_work
from app.domain.payment_states import PAID, PaymentStatus
from app.domain.routing import RouteContext
from app.extensions import db
from app.models import Order, OrderStatus, Payment
from app.providers.base import ProviderError, SessionRequest
from app.providers.registry import get_provider
from app.security_headers import origin_of
from app.services import audit, psp_calls
from app.services.audit import Actor
from app.services.checkout import nonces, provider_choice
from app.services.errors import Conflict, NotFound, PaymentUnavailable, ServiceError
from app.services.fraud import screening
from app.services.fraud.screening import BuyerOrigin
from app.services.payments import actions, janitor, payments, vault
from app.services.shop import addresses

S = PaymentStatus
MODES = ("hosted", "embedded", "fields")  # fields: the PSP's card fields on our page
# A saved card pays on the session its PSP names (PaymentProvider.saved_card_mode: the sandbox's
# hosted session, a Stripe PaymentIntent): if the bank wants 3-D Secure, the buyer goes to its page.
# An open session in one of these can be reused when the buyer comes back.
RESUMABLE = frozenset({S.PROCESSING, S.DECLINED, S.REQUIRES_ACTION})


@dataclass(frozen=True)
class PaymentStart:
    """Where to send the buyer next."""

    payment_id: int
    mode: str
    redirect_url: str | None


class OrderNotFound(NotFound):
    """The order does not exist, or is another buyer's (the route answers 404 and audits)."""


def buyer_order(order_id: int, buyer_id: int) -> Order:
    """The buyer's own order, or OrderNotFound (never another buyer's)."""
    order = db.session.get(Order, order_id)
    if order is None or order.buyer_id != buyer_id:
        raise OrderNotFound("No such order.")
    return order


def _awaiting_payment(order_id: int, buyer_id: int, order: Order | None = None) -> Order:
    """The buyer's order, refused unless it can still be paid for; `order` when the caller
    has it already (locked)."""
    order = order or buyer_order(order_id, buyer_id)
    if order.buyer_id != buyer_id:
        raise OrderNotFound("No such order.")
    if order.status != OrderStatus.AWAITING_PAYMENT.value:
        raise Conflict("This order is already paid." if order.status == OrderStatus.PAID.value
                       else "This order was cancelled; its items are back in the shop.")
    previous = order.current_payment
    if previous is not None and previous.review_status == "pending":
        raise Conflict("We are checking your payment: your card is authorized but not charged "
                       "yet. We will let you know shortly; there is no need to pay again.")
    if previous is not None and previous.state in PAID:
        raise Conflict("This order is already paid.")
    if previous is not None and previous.state == S.UNKNOWN:
        raise Conflict("We are still confirming your previous payment attempt with the "
                       "payment provider. Please check back in a few minutes.")
    return order


def start_payment(order_id: int, buyer_id: int, mode: str, actor: Actor,
                  save_card: bool = False, country: str | None = None,
                  origin: BuyerOrigin | None = None,
                  ship_to: addresses.ShipTo | None = None) -> PaymentStart:
    """Create (or resume) the PSP session for an order and say where the buyer goes next;
    `country` is the buyer's billing country (routing rules may depend on it), `origin` the
    request's address and device (fraud screening), `ship_to` the address the buyer picked
    (settled in the same transaction as the payment; None: the caller has seen to it)."""
    if mode not in MODES:
        raise ServiceError("Choose how you want to pay.")
    # One write transaction before the PSP: the order locked and checked, its address, and
    # (unless a session is resumed) the new payment with its key and screening.
    with unit_of_work():
        order = _awaiting_payment(order_id, buyer_id, locked(Order, order_id)
                                  or _no_order())
        if ship_to is not None:
            addresses.settle_in(order, ship_to, actor)
        previous = order.current_payment
        resume = retry = None
        if previous is not None and previous.integration_mode == mode \
                and previous.save_payment_method == save_card \
                and previous.billing_country == country:  # another country may route elsewhere
            if previous.state in RESUMABLE:
                resume = PaymentStart(previous.id, mode, previous.redirect_url)
            elif previous.state == S.INITIATED:
                retry = previous.id  # retried with the stored key
        replaced = None
        if resume is None and retry is None:
            replaced = (previous.id if previous is not None
                        and previous.state in RESUMABLE | {S.INITIATED} else None)
            payment_id = _insert_payment(order, mode, actor, save_card, country=country,
                                         origin=origin)
    if resume is not None:
        return resume
    if retry is not None:
        return _open_session(retry, actor)
    _cancel_replaced(payment_id, replaced, actor)
    return _open_session(payment_id, actor)


def _no_order():
    raise OrderNotFound("No such order.")


def pay_with_saved(order_id: int, buyer_id: int, method_id: int, actor: Actor,
                   origin: BuyerOrigin | None = None,
                   ship_to: addresses.ShipTo | None = None) -> PaymentStart:
    """Pay an order with one of the buyer's saved cards: a new session, authorized server-side.

    The start's redirect_url is the PSP's page when the card needs 3-D Secure, else None (the
    buyer goes to the return page, which follows the outcome).
    """
    order = _awaiting_payment(order_id, buyer_id)
    method = vault.get_method(method_id, buyer_id)  # another buyer's card: NotFound
    if method.expired:
        raise ServiceError("That saved card has expired. Please choose another way to pay.")
    route = provider_choice.route_for(RouteContext(order.currency, order.total_amount, "card"))
    if method.provider not in route.providers:
        raise ServiceError("That saved card cannot pay this order. Please choose another way "
                           "to pay.")
    previous = order.current_payment
    try:
        mode = get_provider(method.provider).saved_card_mode()
    except KeyError:  # its PSP is not configured here any more
        raise ServiceError("That saved card cannot pay this order. Please choose another way "
                           "to pay.") from None
    start = _open_session(_replace(order_id, previous, mode, False, actor,
                                   only=method.provider, origin=origin, ship_to=ship_to), actor)
    payment = db.session.get(Payment, start.payment_id)
    token = vault.open_token(method_id, buyer_id, actor,
                             reason=f"pay order {order_id} (payment {payment.id})")
    if payment.provider == nonces.PROVIDER:
        # Braintree has no session: the vaulted card's sale is the authorization.
        nonces.pay_with_vaulted(payment.id, token, actor)
        return PaymentStart(payment.id, "saved", None)
    try:
        # Outside any transaction; a retry of this payment's request reuses the same key.
        report = get_provider(payment.provider).authorize_saved(
            payment.psp_reference, token, actions.action_key(payment, "authorize_saved"))
    except ProviderError as exc:
        return _saved_card_refused(payment.id, exc, actor)
    payments.apply_report(payment.id, report, "authorized with a saved card", actor)
    action_url = report.redirect_url if report.status == S.REQUIRES_ACTION else None
    return PaymentStart(payment.id, "saved", action_url)


def _saved_card_refused(payment_id: int, exc: ProviderError, actor: Actor) -> PaymentStart:
    if exc.executed is False and exc.retryable:
        raise PaymentUnavailable("The payment provider is unavailable right now. Nothing has "
                                 "been charged; please try again in a moment.")
    if exc.executed is None:
        # The PSP may have authorized: a re-fetch settles it; the return page follows along.
        payments.schedule_refresh(payment_id, delay_seconds=5)
        return PaymentStart(payment_id, "saved", None)
    if exc.code == "resource_missing":
        raise ServiceError("That saved card can no longer be used. Please remove it and choose "
                           "another way to pay.")
    # A decline (or a state the PSP refused): its record of the session is the truth.
    actions.refresh(payment_id, actor, cause=f"saved card refused: {exc.code}")
    return PaymentStart(payment_id, "saved", None)


def _replace(order_id: int, previous: Payment | None, mode: str, save_card: bool,
             actor: Actor, country: str | None = None, only: str | None = None,
             origin: BuyerOrigin | None = None,
             ship_to: addresses.ShipTo | None = None) -> int:
    """A new payment for the order; the previous unpaid session is cancelled at the PSP."""
    payment_id = _new_payment(order_id, mode, actor, save_card, country=country, only=only,
                              origin=origin, ship_to=ship_to)
    _cancel_replaced(payment_id, previous.id if previous is not None
                     and previous.state in RESUMABLE | {S.INITIATED} else None, actor)
    return payment_id


def _cancel_replaced(payment_id: int, previous_id: int | None, actor: Actor) -> None:
    """Cancel the order's previous unpaid session at the PSP (after the new payment's commit:
    a PSP call never runs inside a transaction)."""
    if previous_id is None:
        return
    replaced = actions.cancel_for_replacement(previous_id, actor)
    if replaced.status in PAID:
        # The buyer had paid on the old session meanwhile: never take a second payment.
        payments.apply_report_without_psp(payment_id, S.CANCELLED, actor, "order already paid")
        raise Conflict("This order is already paid.")


def _new_payment(order_id: int, mode: str, actor: Actor, save_card: bool = False,
                 country: str | None = None, only: str | None = None,
                 origin: BuyerOrigin | None = None,
                 ship_to: addresses.ShipTo | None = None) -> int:
    """A payment row routed by the rules, in a transaction of its own (with the order's
    address when `ship_to` is given); `only` pins the provider (a saved card's)."""
    with unit_of_work():
        order = locked(Order, order_id)
        if ship_to is not None:
            addresses.settle_in(order, ship_to, actor)
        return _insert_payment(order, mode, actor, save_card, country=country, only=only,
                               origin=origin)


def _insert_payment(order: Order, mode: str, actor: Actor, save_card: bool = False,
                    country: str | None = None, only: str | None = None,
                    origin: BuyerOrigin | None = None) -> int:
    """The payment row, its audit record and its screening, in the caller's transaction
    (the order locked)."""
    key = f"hf_{secrets.token_hex(16)}"  # also seeds the route's weighted draw
    route = provider_choice.route_for(RouteContext(order.currency, order.total_amount, "card", country, key,
                                mode=None if only else mode))
    providers, reason = provider_choice.allowed(route, mode, save_card) if only is None else (
        route.providers, route.reason)
    if only is not None:
        providers, reason = (only,), f"saved card held by {only}; {reason}"
    origin = origin or BuyerOrigin()
    payment = Payment(order_id=order.id, provider=providers[0],
                      routing_reason=reason[:255], routing_rule=route.rule,
                      routing_fallbacks=",".join(providers[1:]), billing_country=country,
                      integration_mode=mode,
                      amount=order.total_amount, currency=order.currency,
                      save_payment_method=save_card, idempotency_key=key,
                      client_ip=origin.ip, device_id=origin.device)
    db.session.add(payment)
    db.session.flush()
    audit.record(actor, "payment.created", f"payment:{payment.id}", order=order.id,
                 provider=providers[0], mode=mode, amount=order.total_amount,
                 save_card=save_card, rule=route.rule, fallbacks=list(providers[1:]))
    # Screened in this transaction: the row, its key and its decision commit together,
    # still before any PSP call; a block is enforced in _open_session, after the commit.
    screening.screen(payment, actor)
    return payment.id


def public_url(path: str) -> str:
    """An absolute URL of ours for the PSP to send the buyer back to: built on PUBLIC_URL, never
    on the request's Host header, and refused unless it stays on PUBLIC_URL's origin (no open
    redirect through the PSP)."""
    url = origin_of(current_app.config["PUBLIC_URL"]) + path
    check_return_url(url)
    return url


def check_return_url(url: str) -> None:
    """Refuse a return or cancel URL that is not on PUBLIC_URL's origin."""
    parts = urlsplit(url)
    if (parts.scheme not in ("http", "https") or parts.username or parts.password
            or "\\" in url or origin_of(url) != origin_of(current_app.config["PUBLIC_URL"])):
        raise ServiceError("The payment could not be started: its return address is not ours.")


def _open_session(payment_id: int, actor: Actor) -> PaymentStart:
    payment = db.session.get(Payment, payment_id)
    # Screened once, before the PSP sees it (a retry reuses the decision, so its request, sent
    # with the same idempotency key, is the same); a block raises FraudBlocked.
    if payment.fraud_decision is None:  # a row from before payments were screened at birth
        screening.before_psp(payment_id, actor)
    else:
        screening.refuse_if_blocked(payment_id, actor)
    payment = db.session.get(Payment, payment_id)
    action = payment.fraud_decision
    config = current_app.config
    request = SessionRequest(
        # Our random key, not the row id: ids repeat across databases, the PSP's memory doesn't.
        reference=payment.idempotency_key, amount=payment.amount, currency=payment.currency,
        mode=payment.integration_mode,
        return_url=public_url(url_for("checkout.returned", order_id=payment.order_id)),
        cancel_url=public_url(url_for("checkout.pay", order_id=payment.order_id)),
        parent_origin=origin_of(config["PUBLIC_URL"]),
        idempotency_key=payment.idempotency_key,
        capture_method="manual", expires_in=config["PAYMENT_SESSION_TTL"],
        save_payment_method=payment.save_payment_method,
        # A payment heading for review is stepped up too: the buyer authenticates, then a
        # person decides on the held authorization.
        request_three_d_secure=action in ("require_3ds", "review"))
    provider = get_provider(payment.provider)
    # The call's log rows ride in the transaction that records its answer (or its failure).
    with psp_calls.with_the_answer():
        return _call_and_record(payment_id, provider, request, actor)


def _call_and_record(payment_id: int, provider, request: SessionRequest,
                     actor: Actor) -> PaymentStart:
    config = current_app.config
    try:
        report = provider.create_session(request)
    except ProviderError as exc:
        # Only when this PSP certainly did nothing may another one be asked: else two charges.
        if exc.executed is False and exc.retryable and provider_choice.fail_over(payment_id, exc, actor):
            return _open_session(payment_id, actor)
        return _session_failed(payment_id, exc, actor)
    with unit_of_work():
        payment = locked(Payment, payment_id)
        # Empty for Braintree: no PSP object exists until the Drop-in's nonce makes a sale.
        payment.psp_reference = report.reference or None
        payment.redirect_url, payment.embed_url = report.redirect_url, report.embed_url
        payment.expires_at = now() + timedelta(seconds=config["PAYMENT_SESSION_TTL"])
        if payment.state == S.INITIATED:
            payments.record_change(payment, S.PROCESSING, "PSP session created", actor)
        mode, url = payment.integration_mode, payment.redirect_url
    # A little after the PSP's own expiry, so its expired event usually wins the race.
    payments.schedule_expiry(payment_id, config["PAYMENT_SESSION_TTL"] + 60)
    return PaymentStart(payment_id, mode, url)


def _session_failed(payment_id: int, exc: ProviderError, actor: Actor) -> PaymentStart:
    if exc.executed is None:
        # The PSP may have created the session: record UNKNOWN, let the janitor ask it.
        with unit_of_work():
            payment = locked(Payment, payment_id)
            payments.record_change(payment, S.UNKNOWN, f"create session: {exc.code}", actor)
        janitor.schedule_janitor(payment_id)
        raise PaymentUnavailable("We could not confirm your payment session with the payment "
                                 "provider. Nothing has been charged; we are checking and will "
                                 "update this order. Please try again in a few minutes.")
    if exc.retryable:
        # Certainly not executed: the payment stays INITIATED and a retry reuses its key.
        raise PaymentUnavailable("The payment provider is unavailable right now. Nothing has "
                                 "been charged; please try again in a moment.")
    payments.apply_report_without_psp(payment_id, S.FAILED, actor, f"PSP refused: {exc.code}")
    raise ServiceError("The payment provider refused to start this payment. Please contact "
                       "support; nothing has been charged.")
