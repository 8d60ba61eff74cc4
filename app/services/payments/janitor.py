"""What support sees of payments whose outcome is unknown: the janitor's progress on each."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.extensions import queues
from app.jobs.scheduling import JANITOR_DELAYS
from app.models import Payment
from app.services.payments import payments


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
