"""Jobs that release escrow when its timer runs out."""
from __future__ import annotations

from app.clock import now
from app.jobs.context import app_context
from app.services.audit import Actor
from app.services.money import escrow

TIMER = Actor("system:escrow-timer", "worker")
BATCH = 200


def release_if_due(hold_id: int) -> bool:
    """Release one line if its auto-release time has passed (scheduled at shipment)."""
    with app_context():
        return escrow.release_if_due(hold_id, TIMER)


def release_due() -> int:
    """Release every line whose timer ran out (the periodic safety net); returns how many."""
    with app_context():
        at, released = now(), 0
        # Batches of BATCH lines per transaction, postings written together (bench/batch.py:
        # many postings per transaction instead of one transaction per line).
        while True:
            done = escrow.release_due_batch(TIMER, at, limit=BATCH)
            released += done
            if done < BATCH:
                return released
