"""Jobs for Stripe Connect: reverse a clawback's shortfall from a seller's transfers."""
from __future__ import annotations

from app.jobs.context import app_context
from app.services.audit import Actor
from app.services.money import clawbacks

CLAWBACK = Actor("system:connect-clawback", "worker")


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
            clawbacks.enqueue_reversal(transaction_id, seller_id)
        return len(work)
