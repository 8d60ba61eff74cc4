"""Support's fraud review queue: payments authorized but held uncaptured, with their reasons,
the buyer's history and linked accounts; approve (capture) or reject (void, stock released,
buyer told). Held authorizations never lapse silently: the sweep alerts support before, and
voids them before the card's authorization expires.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, or_, select

from app.clock import now
from app.database import locked, unit_of_work
from app.domain.payment_states import PaymentStatus
from app.extensions import db
from app.keyset import Page, paginate
from app.models import Order, Payment, User
from app.providers.base import ProviderError
from app.providers.registry import get_provider
from app.services import audit, notifications
from app.services.audit import Actor
from app.services.errors import Conflict, NotFound
from app.services.fraud import lists
from app.services.payments import actions, payments
from app.services.payments.payments import Outcome

S = PaymentStatus


@dataclass(frozen=True)
class Linked:
    """Another buyer's payment sharing a card, device or address with this one."""

    payment: Payment
    buyer_email: str
    shared: tuple[str, ...]


@dataclass(frozen=True)
class Case:
    """What support sees to decide one held payment."""

    payment: Payment
    buyer: User
    history: list[Payment]      # the buyer's other payments, newest first
    linked: list[Linked]
    lapses_at: object


QUEUE_PAGE = 100
# Keyset order: the soonest to lapse first (an authorization not yet timed sorts first).
_AUTHORIZED = func.coalesce(Payment.authorized_at, datetime(1970, 1, 1))


def queue() -> list[Payment]:
    """The first page of payments waiting for a decision, oldest first."""
    return queue_page(None).rows


def queue_page(cursor: str | None, size: int = QUEUE_PAGE) -> Page:
    """Payments waiting for a decision, oldest first (the soonest to lapse on top), one
    keyset page after `cursor`."""
    return paginate(select(Payment).where(Payment.review_status == "pending"),
                    [_AUTHORIZED, Payment.id], cursor, size, descending=False,
                    key_of=lambda p: [p.authorized_at or datetime(1970, 1, 1), p.id])


def lapses_at(payment: Payment):
    """When the card's authorization lapses."""
    if payment.authorized_at is None:
        return None
    return payment.authorized_at + timedelta(
        seconds=current_app.config["FRAUD_AUTH_VALIDITY_SECONDS"])


def case(payment_id: int) -> Case:
    """One screened payment (held or not) with the buyer's history and linked accounts."""
    payment = db.session.get(Payment, payment_id)
    if payment is None or payment.fraud_decision is None:
        raise NotFound("No such screened payment.")
    order = db.session.get(Order, payment.order_id)
    buyer = db.session.get(User, order.buyer_id)
    history = db.session.execute(
        select(Payment).join(Order).where(Order.buyer_id == buyer.id, Payment.id != payment.id)
        .order_by(Payment.id.desc()).limit(20)).scalars().all()
    return Case(payment, buyer, history, _linked(payment, buyer.id), lapses_at(payment))


def _linked(payment: Payment, buyer_id: int) -> list[Linked]:
    links = {"card": Payment.card_fingerprint, "device": Payment.device_id,
             "address": Payment.client_ip}
    conditions = [column == getattr(payment, column.key) for column in links.values()
                  if getattr(payment, column.key)]
    if not conditions:
        return []
    rows = db.session.execute(
        select(Payment, User.email).join(Order, Order.id == Payment.order_id)
        .join(User, User.id == Order.buyer_id)
        .where(Order.buyer_id != buyer_id, or_(*conditions))
        .order_by(Payment.id.desc()).limit(50)).all()
    return [Linked(other, email, tuple(name for name, column in links.items()
                                       if getattr(payment, column.key)
                                       and getattr(other, column.key) == getattr(payment,
                                                                                 column.key)))
            for other, email in rows]


def _decide(payment_id: int, status: str, actor: Actor, **details) -> Payment:
    with unit_of_work():
        payment = locked(Payment, payment_id)
        if payment is None:
            raise NotFound("No such payment.")
        if payment.review_status != "pending" or payment.state != S.AUTHORIZED:
            raise Conflict("This payment is no longer waiting for review.")
        payment.review_status, payment.reviewed_by, payment.reviewed_at = (
            status, actor.label, now())
        audit.record(actor, f"fraud.review_{status}", f"payment:{payment.id}", **details)
        return payment


def approve(payment_id: int, actor: Actor) -> Outcome:
    """Support approves: the held authorization is captured and the order is paid."""
    _decide(payment_id, "approved", actor)
    return actions.capture(payment_id, actor)


def reject(payment_id: int, actor: Actor, confirmed_fraud: bool = False) -> Outcome:
    """Support rejects: the authorization is voided, the stock released, the buyer told;
    confirmed fraud also puts the card, device and email on the watchlist."""
    payment = _decide(payment_id, "rejected", actor, confirmed_fraud=confirmed_fraud)
    if confirmed_fraud:
        watch(payment.id, "confirmed fraud", actor)
    return void_held(payment_id, actor)


def watch(payment_id: int, reason: str, actor: Actor, *, in_transaction: bool = False) -> None:
    """Put a payment's card fingerprint, device and buyer email on the watchlist."""
    payment = db.session.get(Payment, payment_id)
    buyer = db.session.get(User, db.session.get(Order, payment.order_id).buyer_id)
    for kind, value in (("fingerprint", payment.card_fingerprint), ("device", payment.device_id),
                        ("email", buyer.email)):
        if value:
            lists.add("watch", kind, value, f"{reason} (payment {payment_id})", actor,
                      in_transaction=in_transaction)


def void_held(payment_id: int, actor: Actor) -> Outcome:
    """Void a rejected, blocked or lapsing authorization at the PSP and tell the buyer; the
    order is cancelled and its stock released by the CANCELLED report."""
    payment = db.session.get(Payment, payment_id)
    if payment is None or payment.state != S.AUTHORIZED:
        return Outcome("unchanged", payment.state if payment else S.CANCELLED, "not held")
    try:
        report = get_provider(payment.provider).void(
            payment.psp_reference, actions.action_key(payment, "fraud_void"))
    except ProviderError as exc:
        if exc.retryable:
            raise  # the job (or the next sweep) tries again with the same key
        return actions.refresh(payment_id, actor, cause=f"void refused: {exc.code}")
    outcome = payments.apply_report(payment_id, report, "voided after fraud screening", actor)
    with unit_of_work():
        payment = locked(Payment, payment_id)
        order = db.session.get(Order, payment.order_id)
        notifications.notify(order.buyer_id, "payment_not_accepted",
                             f"Your order #{order.id} was not accepted",
                             "We could not accept your payment. The hold on your card has been "
                             "released and nothing was charged; the items are back in the "
                             "shop. If you think this is a mistake, please contact support.")
    return outcome


def sweep(actor: Actor) -> dict:
    """Held authorizations near their lapse: alert support at twice the margin, void at it;
    rejected or blocked ones whose void failed are voided again."""
    config = current_app.config
    margin = timedelta(seconds=config["FRAUD_REVIEW_MARGIN_SECONDS"])
    validity = timedelta(seconds=config["FRAUD_AUTH_VALIDITY_SECONDS"])
    held = db.session.execute(select(Payment).where(
        Payment.review_status.in_(["pending", "rejected", "blocked"]),
        Payment.status == S.AUTHORIZED.value)).scalars().all()
    done = {"voided": 0, "escalated": 0}
    for payment in held:
        lapse = (payment.authorized_at or now()) + validity
        if payment.review_status != "pending" or now() >= lapse - margin:
            if payment.review_status == "pending":
                with unit_of_work():
                    locked(Payment, payment.id).review_status = "voided_expiry"
                    audit.record(actor, "fraud.review_lapsing_voided", f"payment:{payment.id}")
            void_held(payment.id, actor)
            done["voided"] += 1
        elif now() >= lapse - 2 * margin and not payment.needs_review:
            payments.flag_for_review(payment.id, "fraud review: the card authorization lapses "
                                     f"at {lapse:%Y-%m-%d %H:%M} UTC; decide before then", actor)
            done["escalated"] += 1
    return done
