"""Steps the escrow and seller-dashboard page tests share: a paid two-seller order, payouts."""
from __future__ import annotations

import time

from sqlalchemy import select

from app.extensions import db
from app.models import EscrowHold, Payout
from app.services.audit import Actor
from app.services.money import bank_accounts, escrow
from tests import flows
from tests.flows import PASSWORD, settle

SUPPORT = Actor("support@test.example", "127.0.0.1")
GOOD_IBAN = "DE89370400440532013000"
CLOSED_IBAN = "DE62370400440532013001"  # the sandbox fails payouts to it: account_closed


def paid_order(app, people, stack, psp, buyer: str = "buyer") -> int:
    """A captured EUR order: 2 mugs (seller, 48.00) and a candle (other seller, 16.90)."""
    return flows.paid_order(app.test_client(), people, stack, psp, {"mug": 2, "candle": 1},
                            buyer)


def holds(order_id: int) -> dict[str, EscrowHold]:
    """The order's holds by item title ("Mug", "Candle"), freshly read."""
    db.session.expire_all()
    rows = db.session.execute(select(EscrowHold).where(EscrowHold.order_id == order_id))
    return {h.line.title: h for h in rows.scalars()}


def release(hold_id: int) -> None:
    """Support releases a line (the shortest way to an available balance)."""
    escrow.support_decide(hold_id, "release", SUPPORT)


def add_bank_account(seller_id: int, iban: str = GOOD_IBAN) -> None:
    """Give the seller a payout account."""
    bank_accounts.register_or_change(seller_id, PASSWORD, "Test Seller", SUPPORT, iban=iban)


def settle_payouts(psp) -> list[Payout]:
    """Run the submit jobs, let the sandbox's bank answer, apply its webhooks; all payouts."""
    from sandbox_psp.webhooks import deliver_due

    settle(psp)
    deliver_due(psp, now=time.time() + 60)
    settle(psp)
    db.session.expire_all()
    return db.session.execute(select(Payout).order_by(Payout.id)).scalars().all()
