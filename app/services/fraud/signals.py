"""Gather what the rules look at for one payment attempt (read-only; the caller's transaction).

Signals not known at a stage are None (a rule on them does not match): before the PSP call
there is no card fingerprint, issuing country or PSP verdict yet.
"""
from __future__ import annotations

import iptocc
from sqlalchemy import func, select

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


def identity(payment: Payment, buyer: User) -> Identity:
    """What identifies this attempt: email, card, device, address and its countries."""
    countries = tuple(c for c in (ip_country(payment.client_ip), payment.billing_country,
                                  payment.card_country) if c)
    return Identity(email=buyer.email, fingerprint=payment.card_fingerprint,
                    device=payment.device_id, ip=payment.client_ip, countries=countries)


def velocity_identities(payment: Payment, buyer: User) -> dict[str, str | None]:
    """The identities sliding windows are kept for."""
    who = identity(payment, buyer)
    return {"buyer": str(buyer.id), "card": who.fingerprint, "ip": who.ip,
            "device": who.device, "email_domain": who.email_domain}


def gather(payment: Payment, rules: RuleSet, stage: Stage,
           then_record: tuple[str, str] | None = None) -> dict:
    """Every signal of the attempt, by name; `then_record` (count, member) notes an event in
    the velocity windows after reading them (velocity.counts)."""
    order = db.session.get(Order, payment.order_id)
    buyer = db.session.get(User, order.buyer_id)
    who = identity(payment, buyer)
    on_lists = lists.matches(who)
    address_country = ip_country(payment.client_ip)
    signals = {
        "amount": payment.amount,
        "first_purchase": _paid_orders(buyer.id, order.id) == 0,
        "amount_vs_history": _vs_history(buyer.id, order),
        "account_age_days": (now() - buyer.created_at).total_seconds() / 86400,
        "ip_country": address_country, "billing_country": payment.billing_country,
        "card_country": payment.card_country,
        "ip_billing_mismatch": _differ(address_country, payment.billing_country),
        "ip_card_mismatch": _differ(address_country, payment.card_country),
        "card_billing_mismatch": _differ(payment.card_country, payment.billing_country),
        "blocklisted": "block" in on_lists, "allowlisted": "allow" in on_lists,
        "watchlisted": "watch" in on_lists,
        "psp_risk": payment.psp_risk_level if stage == Stage.PSP_VERDICT else None,
        "three_d_secure": _passed_3ds(payment.id),
        "email_domain": who.email_domain,
        **_seller(order),
    }
    signals.update(velocity.counts(rules.windows(), velocity_identities(payment, buyer),
                                   then_record))
    return signals


# A paid order stays in good standing once shipped or delivered (issue 17).
_GOOD_STANDING = [OrderStatus.PAID.value, OrderStatus.SHIPPED.value, OrderStatus.DELIVERED.value]


def _differ(a: str | None, b: str | None) -> bool | None:
    return None if not a or not b else a != b


def _paid_orders(buyer_id: int, other_than: int) -> int:
    return db.session.scalar(select(func.count(Order.id)).where(
        Order.buyer_id == buyer_id, Order.status.in_(_GOOD_STANDING),
        Order.id != other_than)) or 0


def _vs_history(buyer_id: int, order: Order) -> float | None:
    largest = db.session.scalar(select(func.max(Order.total_amount)).where(
        Order.buyer_id == buyer_id, Order.status.in_(_GOOD_STANDING),
        Order.currency == order.currency, Order.id != order.id))
    return order.total_amount / largest if largest else None


def _passed_3ds(payment_id: int) -> bool:
    """The payment went through the issuer's challenge and came out authorized."""
    return bool(db.session.scalar(select(func.count(PaymentStatusChange.id)).where(
        PaymentStatusChange.payment_id == payment_id,
        PaymentStatusChange.to_status == "requires_action")))


def _seller(order: Order) -> dict:
    """The riskiest seller of the order: the youngest account, and its fewest paid sales."""
    seller_ids = sorted({line.seller_id for line in order.lines})
    if not seller_ids:
        return {"seller_age_days": None, "seller_paid_sales": None}
    youngest = db.session.scalar(select(func.max(User.created_at)).where(
        User.id.in_(seller_ids)))
    sales = db.session.execute(
        select(OrderLine.seller_id, func.count(func.distinct(Order.id)))
        .join(Order, Order.id == OrderLine.order_id)
        .where(OrderLine.seller_id.in_(seller_ids), Order.status.in_(_GOOD_STANDING),
               Order.id != order.id)
        .group_by(OrderLine.seller_id)).all()
    by_seller = dict(sales)
    return {"seller_age_days": (now() - youngest).total_seconds() / 86400 if youngest else None,
            "seller_paid_sales": min(by_seller.get(s, 0) for s in seller_ids)}
