"""Write balanced postings, read balances, and check the ledger's invariants."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import func, insert, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.domain.ledger import SELLER_KINDS, AccountKind, Posting, normal_balance
from app.extensions import db
from app.models.ledger import LedgerBalance, LedgerEntry, LedgerTransaction
from app.services.reconciliation.ledger_events import psp_object


def post(posting: Posting, intent: str, *, payment_id: int | None = None,
         escrow_id: int | None = None, payout_id: int | None = None,
         psp_ref: str | None = None) -> bool:
    """Record a posting once per business intent (in the caller's transaction).

    `psp_ref`: the reference of the PSP object a posting for a row (a payment, refund, payout,
    transfer reversal, conversion) moved money on, stored for reconciliation
    (`ledger_events.psp_object`); left out, matching works it out from the row instead.
    Returns False when the intent was already posted: a job that runs twice posts once.
    """
    exists = db.session.execute(
        select(LedgerTransaction.id).where(LedgerTransaction.intent == intent)).first()
    if exists:
        return False
    # Core inserts, not ORM objects: postings are written, never edited in the same unit of
    # work, and two ORM flushes cost half of a posting's time (bench/ledger.py).
    legs = [{"account": leg.account.code, "kind": leg.account.kind.value,
             "owner": leg.account.owner, "currency": posting.currency, "amount": leg.amount}
            for leg in posting.legs]
    txn_id = db.session.execute(insert(LedgerTransaction).values(
        intent=intent, event=posting.event, currency=posting.currency, payment_id=payment_id,
        escrow_id=escrow_id, payout_id=payout_id,
        **psp_object(posting.event, intent, legs, psp_ref))
        .returning(LedgerTransaction.id)).scalar_one()
    for leg in legs:
        leg["transaction_id"] = txn_id
    db.session.execute(insert(LedgerEntry), legs)
    _add_to_balances(legs)
    return True


def _add_to_balances(legs: list[dict]) -> None:
    """Add the legs to their accounts' running balances (ledger_balances), in the posting's
    transaction. One upsert per account and currency, in a fixed order, so two postings on
    PostgreSQL lock the shared rows (the PSP's clearing account) in the same order."""
    sums: dict[tuple[str, str], int] = defaultdict(int)
    for leg in legs:
        sums[(leg["account"], leg["currency"])] += leg["amount"]
    rows = [{"account": a, "currency": c, "balance": v} for (a, c), v in sorted(sums.items())]
    if not rows:
        return
    dialect = db.session.get_bind().dialect.name
    upsert = (postgresql_insert if dialect == "postgresql" else sqlite_insert)(LedgerBalance)
    db.session.execute(upsert.on_conflict_do_update(
        index_elements=["account", "currency"],
        set_={"balance": LedgerBalance.balance + upsert.excluded.balance}), rows)


@dataclass(frozen=True)
class Intent:
    """One posting of a batch, with the business intent that makes it exactly-once."""

    posting: Posting
    intent: str
    payment_id: int | None = None
    escrow_id: int | None = None
    payout_id: int | None = None
    psp_ref: str | None = None


def post_many(batch: list[Intent]) -> int:
    """Record many postings in the caller's transaction with a fixed number of statements
    (one lookup of the intents, one INSERT of the transactions, one of all their legs), for the
    jobs that move money in bulk (escrow sweep, payout run, settlement import).

    Same rules as post(): each posting was balanced when its rule built it, and an intent
    already posted (or repeated within the batch) is skipped. Returns how many were new.
    """
    wanted: dict[str, Intent] = {}
    for item in batch:
        wanted.setdefault(item.intent, item)
    if not wanted:
        return 0
    done: set[str] = set()
    names = list(wanted)
    for start in range(0, len(names), 500):  # stay under SQLite's bound-parameter limit
        done.update(db.session.execute(select(LedgerTransaction.intent).where(
            LedgerTransaction.intent.in_(names[start:start + 500]))).scalars())
    fresh = [item for name, item in wanted.items() if name not in done]
    if not fresh:
        return 0
    ids = db.session.execute(
        insert(LedgerTransaction).returning(LedgerTransaction.id, sort_by_parameter_order=True),
        [{"intent": i.intent, "event": i.posting.event, "currency": i.posting.currency,
          "payment_id": i.payment_id, "escrow_id": i.escrow_id, "payout_id": i.payout_id,
          **psp_object(i.posting.event, i.intent, _legs(i.posting), i.psp_ref)}
         for i in fresh]).scalars().all()
    legs = [{"transaction_id": txn_id, "account": leg.account.code,
             "kind": leg.account.kind.value, "owner": leg.account.owner,
             "currency": item.posting.currency, "amount": leg.amount}
            for txn_id, item in zip(ids, fresh, strict=True) for leg in item.posting.legs]
    db.session.execute(insert(LedgerEntry), legs)
    _add_to_balances(legs)
    return len(fresh)


def _legs(posting: Posting) -> list[dict]:
    return [{"account": leg.account.code, "kind": leg.account.kind.value,
             "owner": leg.account.owner, "amount": leg.amount} for leg in posting.legs]


def balance(kind: AccountKind, owner: str, currency: str) -> int:
    """One account's balance on its normal side."""
    code = f"{kind.value}:{owner}" if owner else kind.value
    signed = db.session.execute(select(LedgerBalance.balance).where(
        LedgerBalance.account == code, LedgerBalance.currency == currency)).scalar() or 0
    return normal_balance(kind, int(signed))


def held_at_psp(provider: str, currency: str) -> int:
    """What a PSP holds for us in a currency: its clearing (not yet confirmed by its settlement
    report) plus what reconciliation confirmed (`psp_balance`, where matched lines move)."""
    return (balance(AccountKind.PSP_CLEARING, provider, currency)
            + balance(AccountKind.PSP_BALANCE, provider, currency))


def seller_balances(seller_id: int) -> dict[str, dict[str, int]]:
    """{currency: {escrow, seller_available, seller_in_transit}} for one seller."""
    rows = db.session.execute(
        select(LedgerEntry.currency, LedgerEntry.kind, func.sum(LedgerEntry.amount))
        .where(LedgerEntry.owner == str(seller_id),
               LedgerEntry.kind.in_([k.value for k in SELLER_KINDS]))
        .group_by(LedgerEntry.currency, LedgerEntry.kind))
    result: dict[str, dict[str, int]] = defaultdict(
        lambda: {k.value: 0 for k in SELLER_KINDS})
    for currency, kind, signed in rows:
        result[currency][kind] = normal_balance(AccountKind(kind), int(signed))
    return dict(result)
