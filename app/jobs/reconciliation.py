"""Settlement import and matching: one job per provider and day, and the daily run."""
from __future__ import annotations

import datetime as dt

from app.jobs.context import app_context
from app.services.audit import Actor
from app.services.reconciliation import completion, imports

DAILY = Actor("system:reconciliation", "worker")


def import_day(import_id: int) -> str:
    """Import (or resume importing) one provider's day and match it; then move the payments
    it settled on to COMPLETED where they qualify."""
    with app_context():
        row = imports.run_import(import_id)
        completion.complete_ready(DAILY)
        return row.status


def reconcile_daily() -> list[int]:
    """Queue yesterday's import for every provider that reports settlement data (and today's,
    so the page shows the day so far)."""
    with app_context():
        today = imports.today()
        days = [(today - dt.timedelta(days=1)).isoformat(), today.isoformat()]
        return [imports.request_import(name, day, DAILY)
                for name in imports.reporting_providers() for day in days]


def complete_payments() -> list[int]:
    """Move to COMPLETED every payment whose last condition was met since the import (a payout
    the bank confirmed, a line released): the payout side's owner of the payment's end."""
    with app_context():
        return completion.complete_ready(DAILY)
