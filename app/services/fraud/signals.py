"""Gather what the rules look at for one payment attempt (read-only; the caller's transaction).

Signals not known at a stage are None (a rule on them does not match): before the PSP call
there is no card fingerprint, issuing country or PSP verdict yet.
"""
from __future__ import annotations

import functools
from datetime import datetime
from typing import NamedTuple

import iptocc
from sqlalchemy import and_, bindparam, func, select
from sqlalchemy.orm import aliased

from app.clock import now
from app.domain.fraud import RuleSet, Stage
from app.extensions import db
from app.models import Order, OrderLine, OrderStatus, Payment, PaymentStatusChange, User
from app.services.fraud import lists, velocity
from app.services.fraud.lists import Identity


def ip_country(ip: str | None) -> str | None:
    """The country of an address, offline (iptocc); None for private or unknown ones.
    `ip` is request.remote_addr: behind a proxy, only the trusted-proxy configuration
    (ProxyFix with TRUSTED_PROXIES) may put the client's address there."""
    if not ip:
        return None
    try:
        return iptocc.country_code(ip)
    except ValueError:
        return None


class Buyer(NamedTuple):
    """What screening needs of the buyer (read with its history signals; a User will do too)."""

    id: int
    email: str
    created_at: datetime


def identity(payment: Payment, buyer: User | Buyer) -> Identity:
    """What identifies this attempt: email, card, device, address and its countries."""
    countries = tuple(c for c in (ip_country(payment.client_ip), payment.billing_country,
                                  payment.card_country) if c)
    return Identity(email=buyer.email, fingerprint=payment.card_fingerprint,
                    device=payment.device_id, ip=payment.client_ip, countries=countries)


def velocity_identities(payment: Payment, buyer: User | Buyer) -> dict[str, str | None]:
    """The identities sliding windows are kept for."""
    who = identity(payment, buyer)
    return {"buyer": str(buyer.id), "card": who.fingerprint, "ip": who.ip,
            "device": who.device, "email_domain": who.email_domain}


def gather(payment: Payment, rules: RuleSet, stage: Stage,
           then_record: tuple[str, str] | None = None) -> dict:
    """Every signal of the attempt, by name; `then_record` (count, member) notes an event in
    the velocity windows after reading them (velocity.counts)."""
    facts = _facts(payment)
    buyer = Buyer(facts.buyer_id, facts.email, facts.created_at)
    who = identity(payment, buyer)
    on_lists = lists.matches(who)
    address_country = ip_country(payment.client_ip)
    signals = {
        "amount": payment.amount,
        "first_purchase": facts.paid_orders == 0,
        "amount_vs_history": (facts.total_amount / facts.largest if facts.largest
                              else None),
        "account_age_days": (now() - buyer.created_at).total_seconds() / 86400,
        "ip_country": address_country, "billing_country": payment.billing_country,
        "card_country": payment.card_country,
        "ip_billing_mismatch": _differ(address_country, payment.billing_country),
        "ip_card_mismatch": _differ(address_country, payment.card_country),
        "card_billing_mismatch": _differ(payment.card_country, payment.billing_country),
        "blocklisted": "block" in on_lists, "allowlisted": "allow" in on_lists,
        "watchlisted": "watch" in on_lists,
        "psp_risk": payment.psp_risk_level if stage == Stage.PSP_VERDICT else None,
        "three_d_secure": bool(facts.challenged),
        "email_domain": who.email_domain,
        "seller_age_days": ((now() - facts.youngest_seller).total_seconds() / 86400
                            if facts.youngest_seller else None),
        "seller_paid_sales": facts.seller_paid_sales,
    }
    signals.update(velocity.counts(rules.windows(), velocity_identities(payment, buyer),
                                   then_record))
    return signals


# A paid order stays in good standing once shipped or delivered (issue 17).
_GOOD_STANDING = [OrderStatus.PAID.value, OrderStatus.SHIPPED.value, OrderStatus.DELIVERED.value]


def _differ(a: str | None, b: str | None) -> bool | None:
    return None if not a or not b else a != b


def _facts(payment: Payment):
    """The buyer and every history signal of the payment's order, in one statement (scalar
    sub-selects): screening runs inside checkout's write transaction, and each statement
    through the ORM costs ≈ 0.5 ms of CPU there; seven became one (see `_history`)."""
    return db.session.execute(_history(), {"order_id": payment.order_id,
                                           "payment_id": payment.id}).one()


@functools.cache
def _history():
    """The statement behind `_facts`, built once: building it (aliases, sub-selects) cost more
    CPU than running it.

    - paid_orders: the buyer's other orders in good standing (0: a first purchase);
    - largest: the largest of them in this order's currency (amount against history);
    - challenged: the payment went through the issuer's 3-D Secure challenge;
    - youngest_seller: the newest account among the order's sellers;
    - seller_paid_sales: the fewest paid sales (other orders) of any of its sellers (the
      riskiest seller); None for an order without lines, like youngest_seller.
    """
    other, line, sold = aliased(Order), aliased(OrderLine), aliased(OrderLine)
    seller = aliased(User)
    good = other.status.in_(_GOOD_STANDING)
    mine = and_(other.buyer_id == Order.buyer_id, good, other.id != Order.id)
    paid_orders = select(func.count(other.id)).where(mine).scalar_subquery()
    largest = select(func.max(other.total_amount)).where(
        mine, other.currency == Order.currency).scalar_subquery()
    challenged = select(func.count(PaymentStatusChange.id)).where(
        PaymentStatusChange.payment_id == bindparam("payment_id"),
        PaymentStatusChange.to_status == "requires_action").scalar_subquery()
    # Correlated by hand: auto-correlation stops at the nearest enclosing SELECT, and an
    # uncorrelated `orders` here would read every order's sellers.
    sellers = select(line.seller_id).where(line.order_id == Order.id).correlate(Order)
    youngest = select(func.max(seller.created_at)).where(seller.id.in_(sellers)) \
        .scalar_subquery()
    # Per seller of this order: its distinct other orders in good standing; then the fewest.
    sales = (select(func.count(func.distinct(other.id)))
             .select_from(sold).join(other, other.id == sold.order_id)
             .where(sold.seller_id == line.seller_id, good, other.id != Order.id)
             .correlate(line, Order).scalar_subquery())
    fewest = select(func.min(sales)).where(line.order_id == Order.id).correlate(Order) \
        .scalar_subquery()
    return (select(User.id.label("buyer_id"), User.email, User.created_at, Order.total_amount,
                   paid_orders.label("paid_orders"), largest.label("largest"),
                   challenged.label("challenged"), youngest.label("youngest_seller"),
                   fewest.label("seller_paid_sales"))
            .join(User, User.id == Order.buyer_id).where(Order.id == bindparam("order_id")))
