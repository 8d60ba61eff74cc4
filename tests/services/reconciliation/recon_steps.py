"""Shared steps of the reconciliation tests: a sandbox with only this test's movements, a day's
import, and reads of differences and clearing."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from app.domain.ledger import AccountKind
from app.extensions import db
from app.models import EscrowHold
from app.models.reconciliation import Difference
from app.services.audit import Actor
from app.services.money import bank_accounts, escrow, ledger, payouts
from app.services.reconciliation import clearing, imports
from tests.blueprints.money_steps import settle_payouts
from tests.flows import PASSWORD, paid_order

FINANCE = Actor("support@test.example", "127.0.0.1")
IBAN = "DE89370400440532013000"


def forget_psp_movements(psp) -> None:
    """The suite shares one sandbox: start this test with no balance transactions of others,
    nor their settled payouts. The sandbox's balance counts payouts from their own table but
    conversions from their balance transactions, so a payout funded by a conversion, kept
    without it, would leave a hole in that currency for the next payout (sandbox_psp/balance)."""
    from sandbox_psp.models import BalanceTransaction, Payout
    from sandbox_psp.models import db as psp_db

    with psp.app_context():
        psp_db.session.execute(psp_db.delete(BalanceTransaction))
        psp_db.session.execute(psp_db.delete(Payout).where(Payout.status.in_(("paid", "failed"))))
        psp_db.session.commit()


def today() -> str:
    return dt.datetime.now(dt.timezone.utc).date().isoformat()


def reconcile(provider: str = "sandbox", day: str | None = None):
    """Import and match a day in this process, as the job does."""
    import_id = imports.request_import(provider, day or today(), FINANCE, enqueue=False)
    return imports.run_import(import_id)


def open_differences() -> list[Difference]:
    db.session.expire_all()
    return list(db.session.execute(select(Difference).where(Difference.status == "open")
                                   .order_by(Difference.id)).scalars())


def clearing_today(provider: str = "sandbox", currency: str = "EUR") -> int:
    day = dt.date.fromisoformat(today())
    rows = [r for r in clearing.per_day(day, day)
            if r.provider == provider and r.currency == currency]
    return rows[0].amount if rows else 0


def clearing_total(provider: str = "sandbox") -> int:
    return ledger.balance(AccountKind.PSP_CLEARING, provider, "EUR")


def released_order(client, people, stack, psp, items=None) -> int:
    order_id = paid_order(client, people, stack, psp, items or {"mug": 1})
    for hold in db.session.execute(select(EscrowHold).where(
            EscrowHold.order_id == order_id)).scalars().all():
        escrow.support_decide(hold.id, "release", FINANCE)
    return order_id


def paid_out(people, psp):
    """The seller's available balance paid out through the sandbox's bank (paid)."""
    bank_accounts.register_or_change(people["seller"], PASSWORD, "Northwind", FINANCE,
                                     iban=IBAN)
    payout_id = payouts.book_payout(people["seller"], "EUR", FINANCE, manual=True)
    payouts.submit(payout_id, FINANCE)
    return settle_payouts(psp)[-1]
