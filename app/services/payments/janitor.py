"""Payments whose outcome is unknown: the janitor's cadence, and its progress on each as support
sees it."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app

from app.extensions import queues
from app.models import Payment
from app.services.payments import payments

# Kill Bill's cadence for payments in an unknown state: 5 min, 1 h, then daily ×5.
JANITOR_DELAYS = [timedelta(minutes=5), timedelta(hours=1)] + [timedelta(days=1)] * 5


def schedule_janitor(payment_id: int, attempt: int = 0) -> bool:
    """Schedule the next re-fetch of an UNKNOWN payment; False once the cadence is spent."""
    if attempt >= len(JANITOR_DELAYS):
        current_app.logger.error("payment %s still unknown after the janitor gave up", payment_id)
        return False
    # One id per attempt: a job rescheduling itself under its own id is overwritten when it
    # finishes (RQ saves the running job over the new one: old args, a 500 s result TTL).
    job_id = f"janitor-{payment_id}" + (f"-{attempt}" if attempt else "")
    queues.enqueue_in(JANITOR_DELAYS[attempt], "app.jobs.payments.resolve_payment",
                      payment_id, attempt, job_id=job_id)
    return True


RECHECK = ("The janitor asked the PSP {n} times over {days} days and still does not know how "
           "this payment ended. Re-check with the PSP now.")


def hand_to_support(payment_id: int, actor) -> None:
    """The janitor's last try failed: the payment goes to support's queue, never silently."""
    spent = sum(JANITOR_DELAYS, timedelta())
    payments.flag_for_review(payment_id, RECHECK.format(n=len(JANITOR_DELAYS), days=spent.days),
                             actor)


@dataclass(frozen=True)
class UnknownPayment:
    """An UNKNOWN payment and where the janitor is with it."""

    payment: Payment
    attempt: int | None           # the janitor's next attempt (0-based), None: none scheduled
    next_run: datetime | None     # UTC
    attempts_left: int

    @property
    def given_up(self) -> bool:
        """The cadence is spent and nothing is scheduled: a person must ask the PSP."""
        return self.attempt is None


def unknown_payments() -> list[UnknownPayment]:
    """Every UNKNOWN payment, oldest first, with its scheduled janitor run if any."""
    registry = queues.queue.scheduled_job_registry
    scheduled = set(registry.get_job_ids())
    found = []
    for payment in payments.unknown_payments():
        attempt = next_run = None
        # Job ids follow schedule_janitor: janitor-<id> then janitor-<id>-<attempt>.
        for n in reversed(range(len(JANITOR_DELAYS))):
            job_id = f"janitor-{payment.id}" + (f"-{n}" if n else "")
            if job_id in scheduled:
                attempt = n
                next_run = registry.get_scheduled_time(job_id).replace(tzinfo=None)
                break
        left = len(JANITOR_DELAYS) - attempt if attempt is not None else 0
        found.append(UnknownPayment(payment, attempt, next_run, left))
    return found
