"""Delayed and periodic jobs, on RQ's own scheduler (a worker started with --with-scheduler).

Periodic jobs reschedule themselves under a fixed job id, so starting a worker twice or a job
running twice never doubles them.
"""
from __future__ import annotations

from datetime import timedelta

from flask import current_app

from app.extensions import queues
from app.jobs.context import app_context

# name → (config key of its interval, job function); each reschedules itself after running.
PERIODIC = {
    "sweeper": ("INBOX_SWEEP_SECONDS", "app.jobs.webhooks.sweep_inbox"),
    "escrow": ("ESCROW_SWEEP_SECONDS", "app.jobs.escrow.release_due"),
    "payouts": ("PAYOUT_RUN_SECONDS", "app.jobs.payouts.run_payouts"),
    "notifications": ("NOTIFY_SECONDS", "app.jobs.notifications.deliver_notifications"),
    "refunds": ("INBOX_SWEEP_SECONDS", "app.jobs.refunds.settle_pending"),
    "claims": ("CLAIM_SWEEP_SECONDS", "app.jobs.claims.escalate_overdue"),
    "connect": ("INBOX_SWEEP_SECONDS", "app.jobs.connect.sweep_clawbacks"),
    "evidence": ("EVIDENCE_SWEEP_SECONDS", "app.jobs.evidence.sweep_orphans"),
    # Owners of last resort for non-terminal payments and payouts (issue 11 §1.3).
    "payments": ("PAYMENT_SWEEP_SECONDS", "app.jobs.payments.sweep_payments"),
    "payouts_in_transit": ("PAYOUT_SWEEP_SECONDS", "app.jobs.payouts.sweep_in_transit"),
}


def schedule_periodic(names: tuple[str, ...] = tuple(PERIODIC)) -> None:
    """Seed (or re-seed) the periodic jobs; called when a worker starts."""
    for name in names:
        setting, _ = PERIODIC[name]
        interval = timedelta(seconds=current_app.config[setting])
        # A fixed id per job: restarting workers never doubles a chain. When a run ends RQ saves
        # it over the next one with the run's result TTL, which must outlast the interval.
        queues.enqueue_in(interval, "app.jobs.scheduling.run_periodic", name,
                          job_id=f"periodic-{name}", result_ttl=-1)


def run_periodic(name: str):
    """Run one periodic job, then schedule its next run whatever happened."""
    import importlib

    _, path = PERIODIC[name]
    module, func = path.rsplit(".", 1)
    with app_context():
        try:
            return getattr(importlib.import_module(module), func)()
        finally:
            schedule_periodic((name,))
