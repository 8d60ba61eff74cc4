"""Jobs for Stripe Connect: reverse a clawback's shortfall from a seller's transfers."""
from __future__ import annotations

from sqlalchemy import select

from app.extensions import db, queues
from app.jobs.context import app_context
from app.models.ledger import LedgerTransaction
from app.services.audit import Actor
from app.services.money import clawbacks, connected_accounts

CLAWBACK = Actor("system:connect-clawback", "worker")


def enqueue_reversal(transaction_id: int, seller_id: int) -> None:
    """Queue the reversal of one clawback (call after the clawback's transaction commits)."""
    queues.enqueue("app.jobs.connect.reverse_clawback", transaction_id, seller_id,
                   job_id=f"clawback-{transaction_id}-{seller_id}")


def enqueue_for_posting(intent: str) -> int:
    """Queue a reversal for each connected seller a clawback posting (by its ledger intent,
    e.g. "refund:12") took money from; call after it committed. Returns how many."""
    transaction_id = db.session.execute(select(LedgerTransaction.id).where(
        LedgerTransaction.intent == intent)).scalar_one_or_none()
    if transaction_id is None:
        return 0
    sellers = [seller_id for seller_id in clawbacks.clawed_back(transaction_id)
               if connected_accounts.stripe_account(seller_id) is not None]
    for seller_id in sellers:
        enqueue_reversal(transaction_id, seller_id)
    return len(sellers)


def reverse_clawback(transaction_id: int, seller_id: int) -> list[int]:
    """Reverse what one clawback left below zero from the seller's latest Stripe transfers."""
    with app_context():
        return clawbacks.reverse_shortfall(transaction_id, seller_id, CLAWBACK)


def sweep_clawbacks() -> int:
    """The periodic safety net: retry stale reversals, then queue clawbacks nobody reversed
    yet (a refund or chargeback whose trigger was lost); returns how many were queued."""
    with app_context():
        for reversal_id in clawbacks.stale_pending():
            clawbacks.submit(reversal_id, CLAWBACK)
        work = clawbacks.due()
        for transaction_id, seller_id in work:
            enqueue_reversal(transaction_id, seller_id)
        return len(work)
