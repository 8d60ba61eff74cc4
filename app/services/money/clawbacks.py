"""Clawbacks from sellers paid through Stripe Connect, by reversing their latest transfers.

A refund after release or a lost chargeback takes the seller's share back from their available
balance, which may then be negative (docs/money.md). For a seller paid by Stripe transfers the
money is already in their connected account, so the shortfall is reversed from their most
recent transfers instead of waiting for future sales to net it out.

Runs in a job after the refund or chargeback has committed, never inside its transaction:
1. Plan, under the seller's payout lock (so no payout is booked meanwhile): the shortfall is
   what this clawback took from the seller, at most what their available balance is below
   zero (minus reversals already planned and not yet booked); it is spread over the seller's
   paid Stripe transfers, newest first, at most what is left on each. One TransferReversal row
   per transfer, with its idempotency key, is committed before Stripe is asked.
2. Ask Stripe outside any transaction with that key.
3. Book: "transfer_reversed" (Dr psp_clearing:stripe / Cr seller_available), once per row.
A second run of the same clawback finds its rows and only repeats step 2–3 for pending ones.
"""
from __future__ import annotations

import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, or_, select

from app.clock import now
from app.database import locked, unit_of_work
from app.domain import ledger as rules
from app.domain.ledger import AccountKind
from app.domain.money import format_money
from app.domain.payout_states import PayoutStatus
from app.domain.reversal_states import ReversalStatus, transition
from app.extensions import db, queues
from app.models.ledger import LedgerTransaction
from app.models.payouts import Payout
from app.models.transfer_reversals import FAILED, PENDING, SUCCEEDED, TransferReversal
from app.providers.base import ProviderError
from app.providers.registry import get_provider
from app.services import audit, notifications
from app.services.audit import Actor
from app.services.money import connected_accounts, ledger, payout_settings

STRIPE = connected_accounts.STRIPE
# Ledger events that take money back from a seller after release. A refund of a converted
# order takes the seller's share in their own currency in its "fx_refund" posting (intent
# "refund:<id>:fx:<currency>"), not in the buyer's-currency "refund" one.
CLAWBACK_EVENTS = ("refund", "fx_refund", "dispute_lost")
CLAWED_FROM = (AccountKind.SELLER_AVAILABLE.value, AccountKind.SELLER_RESERVED.value)


def clawed_back(transaction_id: int) -> dict[int, int]:
    """Seller id → what one clawback posting took from their released money."""
    txn = db.session.get(LedgerTransaction, transaction_id)
    if txn is None or txn.event not in CLAWBACK_EVENTS:
        return {}
    taken: dict[int, int] = {}
    for entry in txn.entries:
        if entry.kind in CLAWED_FROM and entry.amount > 0:  # a debit of a credit-normal account
            taken[int(entry.owner)] = taken.get(int(entry.owner), 0) + entry.amount
    return taken


def reverse_shortfall(transaction_id: int, seller_id: int, actor: Actor) -> list[int]:
    """Reverse, from the seller's latest transfers, the shortfall one clawback left; returns
    the ids of its reversals that succeeded (the same ones however often it runs)."""
    for reversal_id in plan(transaction_id, seller_id, actor):
        submit(reversal_id, actor)
    return list(db.session.execute(select(TransferReversal.id).where(
        TransferReversal.source_transaction_id == transaction_id,
        TransferReversal.seller_id == seller_id, TransferReversal.status == SUCCEEDED)
        .order_by(TransferReversal.id)).scalars())


def plan(transaction_id: int, seller_id: int, actor: Actor) -> list[int]:
    """Commit the reversals one clawback needs (once); returns the ids still pending."""
    with unit_of_work():
        payout_settings.settings_for(seller_id)  # the payout lock: no payout is booked meanwhile
        mine = select(TransferReversal).where(
            TransferReversal.source_transaction_id == transaction_id,
            TransferReversal.seller_id == seller_id)
        existing = list(db.session.execute(mine).scalars())
        if not existing:
            existing = _new_reversals(transaction_id, seller_id, actor)
        return [row.id for row in existing if row.status == PENDING]


def _new_reversals(transaction_id: int, seller_id: int, actor: Actor) -> list[TransferReversal]:
    taken = clawed_back(transaction_id).get(seller_id, 0)
    if taken <= 0 or connected_accounts.stripe_account(seller_id) is None:
        return []
    currency = db.session.get(LedgerTransaction, transaction_id).currency
    available = ledger.balance(AccountKind.SELLER_AVAILABLE, str(seller_id), currency)
    planned = db.session.execute(select(func.coalesce(func.sum(TransferReversal.amount), 0))
                                 .where(TransferReversal.seller_id == seller_id,
                                        TransferReversal.currency == currency,
                                        TransferReversal.status == PENDING)).scalar_one()
    left = min(taken, -available - int(planned))
    rows: list[TransferReversal] = []
    for payout in _paid_transfers(seller_id, currency):
        if left <= 0:
            break
        amount = min(left, payout.amount - _reversed_from(payout.id))
        if amount <= 0:
            continue
        rows.append(TransferReversal(
            seller_id=seller_id, source_transaction_id=transaction_id, payout_id=payout.id,
            provider=STRIPE, currency=currency, amount=amount,
            idempotency_key=f"trr_{secrets.token_hex(16)}"))
        left -= amount
    db.session.add_all(rows)
    db.session.flush()
    if rows:
        audit.record(actor, "clawback.reversal_planned", f"user:{seller_id}",
                     source=transaction_id, currency=currency,
                     reversals={row.payout_id: row.amount for row in rows},
                     not_covered=max(left, 0))
    return rows


def _paid_transfers(seller_id: int, currency: str) -> list[Payout]:
    return list(db.session.execute(select(Payout).where(
        Payout.seller_id == seller_id, Payout.provider == STRIPE, Payout.currency == currency,
        Payout.status == PayoutStatus.PAID.value, Payout.psp_reference.is_not(None))
        .order_by(Payout.id.desc())).scalars())


def _reversed_from(payout_id: int) -> int:
    # Pending rows count: Stripe may be executing them right now.
    return int(db.session.execute(select(func.coalesce(func.sum(TransferReversal.amount), 0))
                                  .where(TransferReversal.payout_id == payout_id,
                                         TransferReversal.status != FAILED)).scalar_one())


def submit(reversal_id: int, actor: Actor) -> TransferReversal:
    """Ask Stripe for one planned reversal with its stored key and book the answer."""
    row = db.session.get(TransferReversal, reversal_id)
    if row.status != PENDING:
        return row
    transfer = db.session.get(Payout, row.payout_id).psp_reference
    adapter = get_provider(row.provider)
    try:
        # A run that crashed after Stripe acted left a reversal with our key: book that one
        # (a retry with the key would only replay Stripe's saved error).
        result = adapter.find_reversal(transfer, row.idempotency_key) \
            or adapter.reverse_transfer(transfer, row.amount, row.idempotency_key)
    except ProviderError as exc:
        if exc.executed is False and not exc.retryable:
            return _settle(reversal_id, None, exc.code or "refused", actor)
        raise  # unknown outcome or worth retrying: the job runs again with the same key
    return _settle(reversal_id, result.reference, None, actor)


def _settle(reversal_id: int, reference: str | None, failure: str | None,
            actor: Actor) -> TransferReversal:
    with unit_of_work():
        row = locked(TransferReversal, reversal_id)
        if row.status != PENDING:
            return row
        row.settled_at = now()
        if failure is not None:
            # Nothing moved: the balance stays negative and future sales net it out.
            row.status = transition(row.state, ReversalStatus.FAILED).value
            row.failure_code = failure[:64]
            audit.record(actor, "clawback.reversal_failed", f"transfer_reversal:{row.id}",
                         amount=row.amount, currency=row.currency, failure=failure)
            return row
        row.status = transition(row.state, ReversalStatus.SUCCEEDED).value
        row.psp_reference = reference
        ledger.post(rules.transfer_reversed(row.seller_id, row.provider, row.currency,
                                            row.amount), f"transfer_reversed:{row.id}",
                    psp_ref=reference)
        audit.record(actor, "clawback.reversed", f"transfer_reversal:{row.id}",
                     amount=row.amount, currency=row.currency, transfer=row.payout_id,
                     reference=reference)
        notifications.notify(
            row.seller_id, "clawback_reversed",
            f"{format_money(row.total)} taken back from your Stripe account",
            f"A refund or lost chargeback on one of your sales took more than your balance "
            f"held. We took {format_money(row.total)} back from your latest Stripe transfer "
            "to cover it.")
        return row


def due(within: timedelta = timedelta(days=2)) -> list[tuple[int, int]]:
    """(clawback posting, seller) pairs of recent clawbacks of sellers with a connected account
    who are below zero and have no reversal planned for it yet: the safety net's work list."""
    recent = db.session.execute(select(LedgerTransaction.id).where(
        LedgerTransaction.event.in_(CLAWBACK_EVENTS),
        LedgerTransaction.created_at >= now() - within).order_by(LedgerTransaction.id)).scalars()
    work = []
    for transaction_id in recent:
        for seller_id in clawed_back(transaction_id):
            currency = db.session.get(LedgerTransaction, transaction_id).currency
            if connected_accounts.stripe_account(seller_id) is None or ledger.balance(
                    AccountKind.SELLER_AVAILABLE, str(seller_id), currency) >= 0:
                continue
            planned = db.session.execute(select(TransferReversal.id).where(
                TransferReversal.source_transaction_id == transaction_id,
                TransferReversal.seller_id == seller_id).limit(1)).first()
            if planned is None:
                work.append((transaction_id, seller_id))
    return work


def stale_pending(older_than: timedelta = timedelta(minutes=10)) -> list[int]:
    """Reversals planned but never answered (the job was lost or Stripe kept failing)."""
    return list(db.session.execute(select(TransferReversal.id).where(
        TransferReversal.status == PENDING,
        TransferReversal.created_at < now() - older_than)).scalars())


def for_seller(seller_id: int, limit: int = 20) -> list[TransferReversal]:
    """The seller's reversals, newest first."""
    return list(db.session.execute(select(TransferReversal).where(
        TransferReversal.seller_id == seller_id).order_by(TransferReversal.id.desc())
        .limit(limit)).scalars())


def enqueue_reversal(transaction_id: int, seller_id: int) -> None:
    """Queue the reversal of one clawback (call after the clawback's transaction commits)."""
    queues.enqueue("app.jobs.connect.reverse_clawback", transaction_id, seller_id,
                   job_id=f"clawback-{transaction_id}-{seller_id}")


def enqueue_for_posting(intent: str) -> int:
    """Queue a reversal for each connected seller a clawback posting (by its ledger intent,
    e.g. "refund:12") took money from; call after it committed. Returns how many."""
    # With the postings of the same intent in other currencies (a converted order's refund).
    transaction_ids = db.session.execute(select(LedgerTransaction.id).where(or_(
        LedgerTransaction.intent == intent,
        LedgerTransaction.intent.startswith(f"{intent}:fx:", autoescape=True)))
        .order_by(LedgerTransaction.id)).scalars().all()
    queued = 0
    for transaction_id in transaction_ids:
        sellers = [seller_id for seller_id in clawed_back(transaction_id)
                   if connected_accounts.stripe_account(seller_id) is not None]
        for seller_id in sellers:
            enqueue_reversal(transaction_id, seller_id)
        queued += len(sellers)
    return queued


def after_commit(intent: str) -> None:
    """Queue the reversals a committed clawback posting needs; if Redis is down, the periodic
    "connect" sweep finds the posting later."""
    from redis.exceptions import RedisError

    try:
        enqueue_for_posting(intent)
    except RedisError:
        current_app.logger.warning("queue unavailable; clawback %s waits for the sweep", intent)
