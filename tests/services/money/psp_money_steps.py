"""Steps the end-to-end money tests on Stripe and Braintree share: route every payment to one
provider, check out a two-seller order, and read escrow, ledger and chargeback cases back."""
from __future__ import annotations

from flask import current_app
from sqlalchemy import select

from app.domain.ledger import AccountKind
from app.extensions import db
from app.models import DisputeCase, EscrowHold, LedgerTransaction, Payment
from app.services.audit import Actor
from app.services.checkout import checkout, orders
from app.services.money import ledger
from app.services.shop import cart

BUYER = Actor("buyer@test.example", "127.0.0.1")
SUPPORT = Actor("support@test.example", "127.0.0.1")
TOTAL = 2 * 2400 + 1690  # two mugs (seller: 48.00) and a candle (other seller: 16.90)


def start_order(people, mode: str) -> int:
    """The buyer checks out two mugs and a candle in EUR and starts paying; the payment id."""
    cart.set_quantity(people["buyer"], people["mug"], 2)
    cart.set_quantity(people["buyer"], people["candle"], 1)
    order_id = orders.place_order(people["buyer"], "EUR", BUYER)
    with current_app.test_request_context(base_url=current_app.config["PUBLIC_URL"]):
        return checkout.start_payment(order_id, people["buyer"], mode, BUYER).payment_id


def fresh(payment_id: int) -> Payment:
    """The payment as committed now."""
    db.session.commit()
    db.session.expire_all()
    return db.session.get(Payment, payment_id)


def holds(payment: Payment) -> dict[int, EscrowHold]:
    """The payment's escrow holds by seller id, freshly read."""
    db.session.expire_all()
    return {h.seller_id: h for h in db.session.execute(select(EscrowHold).where(
        EscrowHold.order_id == payment.order_id)).scalars()}


def bal(kind: AccountKind, owner: object = "") -> int:
    """An account's EUR balance."""
    return ledger.balance(kind, str(owner), "EUR")


def postings(event: str) -> list[LedgerTransaction]:
    """Every ledger transaction of one posting rule ("capture", "refund", …)."""
    return list(db.session.execute(select(LedgerTransaction).where(
        LedgerTransaction.event == event)).scalars())


def case_of(payment: Payment) -> DisputeCase:
    """The payment's one dispute case, freshly read."""
    db.session.expire_all()
    return db.session.execute(select(DisputeCase).where(
        DisputeCase.payment_id == payment.id)).scalar_one()


def dispute_intents(case: DisputeCase) -> list[str]:
    """The ledger intents posted for the case's PSP dispute, sorted."""
    return sorted(db.session.execute(select(LedgerTransaction.intent).where(
        LedgerTransaction.intent.like(f"dispute_%:{case.provider}:{case.psp_reference}"))
    ).scalars())


EVIDENCE = {"shipping_tracking_number": "TRACK-123",
            "uncategorized_text": "Signed for at the door."}


def support_actor(people) -> Actor:
    """Support staff acting in their own name."""
    return Actor("support@test.example", "127.0.0.1", people["support"])
