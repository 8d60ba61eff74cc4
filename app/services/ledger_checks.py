"""The ledger's invariants (reference §5, items 1–3 and 5), checked against the database.

Each check returns human-readable problems naming the offending postings; an empty list means the
books are sound. `flask ledger check` and the test suite run them all.
"""
from __future__ import annotations

from sqlalchemy import func, select

from app.domain.ledger import SELLER_KINDS, AccountKind, normal_balance
from app.domain.payment_states import PaymentStatus
from app.domain.payout_states import PayoutStatus
from app.extensions import db
from app.models import Payment, WebhookEvent
from app.models.escrow import EscrowHold
from app.models.ledger import LedgerEntry, LedgerTransaction
from app.models.payouts import Payout

CAPTURED_OR_LATER = {PaymentStatus.CAPTURED.value, PaymentStatus.COMPLETED.value,
                     PaymentStatus.PARTIALLY_REFUNDED.value, PaymentStatus.REFUNDED.value,
                     PaymentStatus.DISPUTED.value}


def postings_balance() -> list[str]:
    """1. Every posting's legs sum to zero, in a single currency."""
    rows = db.session.execute(
        select(LedgerEntry.transaction_id, LedgerTransaction.intent,
               func.sum(LedgerEntry.amount), func.count(func.distinct(LedgerEntry.currency)))
        .join(LedgerTransaction).group_by(LedgerEntry.transaction_id, LedgerTransaction.intent))
    return [f"posting {tid} ({intent}): legs sum to {total} across {n} currencies"
            for tid, intent, total, n in rows if total != 0 or n != 1]


def payments_consistent() -> list[str]:
    """2 and 5. Captured ≤ authorized, refunded ≤ captured, and every captured payment has
    exactly one capture posting whose escrow credits equal what was captured."""
    problems = []
    for p in db.session.execute(select(Payment)).scalars():
        if p.amount_captured > p.amount_authorized or p.amount_refunded > p.amount_captured:
            problems.append(f"payment {p.id}: authorized {p.amount_authorized}, captured "
                            f"{p.amount_captured}, refunded {p.amount_refunded}")
        captures = db.session.execute(select(LedgerTransaction).where(
            LedgerTransaction.intent == f"capture:payment:{p.id}")).scalars().all()
        if p.status in CAPTURED_OR_LATER and len(captures) != 1:
            problems.append(f"payment {p.id}: {p.status} with {len(captures)} capture postings")
        for txn in captures:
            escrow = -sum(e.amount for e in txn.entries if e.kind == AccountKind.ESCROW.value)
            holds = sum(h.gross_amount for h in db.session.execute(
                select(EscrowHold).where(EscrowHold.order_id == p.order_id)).scalars())
            if escrow != p.amount_captured or holds != p.amount_captured:
                problems.append(f"payment {p.id}: captured {p.amount_captured} but posting "
                                f"{txn.id} puts {escrow} in escrow and holds total {holds}")
    return problems


def releases_consistent() -> list[str]:
    """2. Fees + seller shares = what was held, for every released line."""
    problems = []
    for txn in db.session.execute(select(LedgerTransaction).where(
            LedgerTransaction.event == "escrow_release")).scalars():
        hold = db.session.get(EscrowHold, txn.escrow_id)
        debit = sum(e.amount for e in txn.entries if e.kind == AccountKind.ESCROW.value)
        if hold is None or debit != hold.gross_amount:
            problems.append(f"posting {txn.id} ({txn.intent}): releases {debit}, hold says "
                            f"{hold.gross_amount if hold else 'missing'}")
    return problems


def seller_balances_not_negative() -> list[str]:
    """3. No seller account below zero (no written policy allows it yet)."""
    rows = db.session.execute(
        select(LedgerEntry.account, LedgerEntry.kind, LedgerEntry.currency,
               func.sum(LedgerEntry.amount))
        .where(LedgerEntry.kind.in_([k.value for k in SELLER_KINDS]))
        .group_by(LedgerEntry.account, LedgerEntry.kind, LedgerEntry.currency))
    return [f"account {account} {currency}: balance {normal_balance(AccountKind(kind), s)}"
            for account, kind, currency, s in rows
            if normal_balance(AccountKind(kind), int(s)) < 0]


def payouts_posted() -> list[str]:
    """4/5. Each payout has exactly the postings its status implies."""
    expected = {PayoutStatus.PENDING.value: {"sent"}, PayoutStatus.IN_TRANSIT.value: {"sent"},
                PayoutStatus.PAID.value: {"sent", "paid"},
                PayoutStatus.FAILED.value: {"sent", "failed"}}
    problems = []
    for payout in db.session.execute(select(Payout)).scalars():
        intents = set(db.session.execute(select(LedgerTransaction.intent).where(
            LedgerTransaction.payout_id == payout.id)).scalars())
        kinds = {i.split(":")[1] for i in intents}
        if kinds != expected[payout.status]:
            problems.append(f"payout {payout.id} ({payout.status}): postings {sorted(intents)}")
    return problems


def webhook_events_unique() -> list[str]:
    """5. Every processed webhook event id appears once."""
    rows = db.session.execute(select(WebhookEvent.provider, WebhookEvent.event_id,
                                     func.count()).group_by(WebhookEvent.provider,
                                                            WebhookEvent.event_id)
                              .having(func.count() > 1))
    return [f"webhook {provider}/{event_id} stored {n} times" for provider, event_id, n in rows]


CHECKS = (postings_balance, payments_consistent, releases_consistent,
          seller_balances_not_negative, payouts_posted, webhook_events_unique)


def check_all() -> list[str]:
    """Every invariant's problems, in order."""
    return [problem for check in CHECKS for problem in check()]
