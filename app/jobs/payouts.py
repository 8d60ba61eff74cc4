"""Jobs that pay sellers: the scheduled run, and sending one booked payout."""
from __future__ import annotations

from app.extensions import queues
from app.jobs.context import app_context
from app.services.audit import Actor
from app.services.money import payout_sweeps, payouts

RUN = Actor("system:payout-run", "worker")


def run_payouts() -> list[int]:
    """Book a payout for every seller and currency that is due, then queue sending each."""
    with app_context():
        # Re-send first: a payout booked earlier whose submit job was lost. Same key, so the
        # PSP executes it once whatever happened before.
        for payout_id in payout_sweeps.stale_pending():
            queues.enqueue("app.jobs.payouts.submit_payout", payout_id,
                           job_id=f"payout-submit-{payout_id}")
        booked = [pid for seller_id, currency in payouts.sellers_with_available()
                  if (pid := payouts.book_payout(seller_id, currency, RUN)) is not None]
        for payout_id in booked:
            queues.enqueue("app.jobs.payouts.submit_payout", payout_id,
                           job_id=f"payout-submit-{payout_id}")
        return booked


def submit_payout(payout_id: int) -> str:
    """Send one booked payout to the PSP (same idempotency key on every retry)."""
    with app_context():
        return payouts.submit(payout_id, RUN).status


def sweep_in_transit() -> int:
    """Ask the PSP about payouts in transit for long, and about paid ones a bank may still
    send back (their webhooks may be lost); returns how many."""
    with app_context():
        ids = payout_sweeps.overdue_in_transit() + payout_sweeps.recheck_due()
        for payout_id in ids:
            payouts.refresh(payout_id, RUN)
        return len(ids)
