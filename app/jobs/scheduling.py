"""Delayed and periodic jobs, on RQ's own scheduler (a worker started with --with-scheduler).

Periodic jobs reschedule themselves under a fixed job id, so starting a worker twice or a job
running twice never doubles them.
"""
from __future__ import annotations

from datetime import timedelta

from flask import current_app

from app.extensions import queues
from app.jobs.context import app_context

# Kill Bill's cadence for payments in an unknown state: 5 min, 1 h, then daily ×5.
JANITOR_DELAYS = [timedelta(minutes=5), timedelta(hours=1)] + [timedelta(days=1)] * 5


def schedule_janitor(payment_id: int, attempt: int = 0) -> bool:
    """Schedule the next re-fetch of an UNKNOWN payment; False once the cadence is spent."""
    if attempt >= len(JANITOR_DELAYS):
        current_app.logger.error("payment %s still unknown after the janitor gave up", payment_id)
        return False
    queues.enqueue_in(JANITOR_DELAYS[attempt], "app.jobs.payments.resolve_payment",
                      payment_id, attempt, job_id=f"janitor-{payment_id}")
    return True


def schedule_periodic() -> None:
    """Seed the periodic jobs (called when a worker starts)."""
    interval = timedelta(seconds=current_app.config["INBOX_SWEEP_SECONDS"])
    queues.enqueue_in(interval, "app.jobs.scheduling.run_sweeper", job_id="periodic-sweeper")


def run_sweeper() -> int:
    """Sweep the inbox, then schedule the next sweep."""
    from app.jobs.webhooks import sweep_inbox

    with app_context():
        try:
            return sweep_inbox()
        finally:
            schedule_periodic()
