"""Delayed and periodic jobs, on RQ's own scheduler (a worker started with --with-scheduler).

Periodic jobs reschedule themselves under a fixed job id, so starting a worker twice or a job
running twice never doubles them. The schedule itself lives in Redis, so two things can end a
chain: a FLUSHALL (or a Redis that lost its data), and a worker killed inside a run before its
`finally` rescheduled it. Every worker therefore re-seeds any chain it finds missing, when it
starts and at each of its maintenance rounds (`PeriodicWorker`, every PERIODIC_CHECK_SECONDS).
"""
from __future__ import annotations

import time
from datetime import timedelta

from flask import current_app
from redis.exceptions import RedisError
from rq import Worker
from rq.registry import ScheduledJobRegistry, StartedJobRegistry

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
    "fraud_reviews": ("FRAUD_REVIEW_SWEEP_SECONDS", "app.jobs.fraud.sweep_reviews"),
    # Owners of last resort for non-terminal payments and payouts (issue 11 §1.3).
    "payments": ("PAYMENT_SWEEP_SECONDS", "app.jobs.payments.sweep_payments"),
    # Per-shipment capture: the rest of an authorization voided at its deadline.
    "uncaptured": ("PAYMENT_SWEEP_SECONDS", "app.jobs.payments.void_uncaptured"),
    "payouts_in_transit": ("PAYOUT_SWEEP_SECONDS", "app.jobs.payouts.sweep_in_transit"),
    # Lost webhooks (the PSP believes it delivered them): read back from its event list.
    "events": ("EVENT_CATCH_UP_SECONDS", "app.jobs.webhooks.catch_up_events"),
    # Each PSP's settlement data imported and matched with the ledger (issue 13).
    "reconciliation": ("RECONCILE_SECONDS", "app.jobs.reconciliation.reconcile_daily"),
    # Payments whose sellers were paid since their settlement reach COMPLETED.
    "completion": ("PAYOUT_SWEEP_SECONDS", "app.jobs.reconciliation.complete_payments"),
    # Reference exchange rates from FX_RATES_SOURCE (issue 17, currency conversion).
    "fx_rates": ("FX_REFRESH_SECONDS", "app.jobs.fx.refresh_rates"),
    # The PSP call log's retention (PSP_CALL_LOG_DAYS).
    "psp_calls": ("PSP_CALL_PRUNE_SECONDS", "app.jobs.psp_calls.prune_call_log"),
    # The admin dashboard's closed days stored once (issue 18, services/reporting/rollups.py).
    "daily_totals": ("ROLLUP_SECONDS", "app.jobs.reporting.roll_up_days"),
}


def schedule_periodic(names: tuple[str, ...] = tuple(PERIODIC)) -> None:
    """Seed (or re-seed) the periodic jobs; called when a worker starts."""
    for name in names:
        setting, _ = PERIODIC[name]
        interval = timedelta(seconds=current_app.config[setting])
        # A fixed id per job: restarting workers never doubles a chain. When a run ends RQ saves
        # it over the next one with the run's result TTL, which must outlast the interval.
        queues.enqueue_in(interval, "app.jobs.scheduling.run_periodic", name,
                          job_id=f"periodic-{name}", result_ttl=-1, route=PERIODIC[name][1])


def seed_when_reachable(first_wait: float = 1.0, longest_wait: float = 30.0) -> None:
    """Seed the periodic jobs at worker start, waiting for Redis if it is down: a worker that
    a supervisor starts during an outage must not exit, it must be there when Redis returns."""
    wait = first_wait
    while True:
        try:
            schedule_periodic()
            return
        except RedisError as exc:
            current_app.logger.warning("Redis unreachable (%s); the worker waits %.0f s", exc,
                                       wait)
            time.sleep(wait)
            wait = min(wait * 2, longest_wait)


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


def missing_periodic() -> list[str]:
    """The periodic chains with no next run anywhere: not scheduled, queued or running."""
    # Each chain lives on the queue RQ_QUEUE_ROUTES sends its job to: looking only at the
    # default queue would re-seed a routed chain every round and push its run back for ever.
    present: set[str] = set()
    for queue in {queues.queue_for(path).name: queues.queue_for(path)
                  for _, path in PERIODIC.values()}.values():
        present |= set(ScheduledJobRegistry(queue=queue).get_job_ids(cleanup=False))
        present |= set(StartedJobRegistry(queue=queue).get_job_ids(cleanup=False))
        present |= set(queue.get_job_ids())
    return [name for name in PERIODIC if f"periodic-{name}" not in present]


def ensure_periodic() -> list[str]:
    """Re-seed every chain that is missing (after FLUSHALL or a killed run); which ones."""
    names = tuple(missing_periodic())
    if names:
        current_app.logger.warning("re-seeding periodic jobs missing from Redis: %s",
                                   ", ".join(names))
        schedule_periodic(names)
    return list(names)


class Periodic:
    """Mixed into an RQ worker class: it also keeps the periodic schedule alive at every
    maintenance round."""

    @property
    def dequeue_timeout(self) -> int:
        # RQ runs maintenance only between dequeues, and an idle worker blocks in BLPOP for
        # worker_ttl - 15 s (405 s): after a FLUSHALL left nothing to dequeue, the schedule came
        # back only when that wait ended. Waking at each maintenance interval keeps the promise
        # of PERIODIC_CHECK_SECONDS (and retries the scheduler lock just as often).
        return max(1, min(super().dequeue_timeout, self.maintenance_interval))

    def run_maintenance_tasks(self):
        # Registries first: a run abandoned by a killed worker leaves "started" for "failed"
        # there, and only then counts as missing.
        super().run_maintenance_tasks()
        try:
            ensure_periodic()
        except Exception:  # Redis gone again: the worker's own loop waits for it to return
            self.log.exception("could not check the periodic schedule")


class PeriodicWorker(Periodic, Worker):
    """The forking RQ worker (a work horse per job) keeping the periodic schedule alive."""
