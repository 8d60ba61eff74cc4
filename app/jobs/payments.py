"""Jobs that move payments forward: capture, expiry, and the janitor for UNKNOWN outcomes."""
from __future__ import annotations

from app.jobs.context import app_context
from app.providers.base import ProviderError
from app.services.audit import Actor
from app.services.payments import actions
from app.services.payments.janitor import schedule_janitor


def capture_payment(payment_id: int) -> str:
    """Capture an authorized payment (auto-capture); safe to run twice."""
    with app_context():
        return actions.capture(payment_id, Actor("system:capture", "worker")).result


def expire_payment(payment_id: int) -> str:
    """Expire an abandoned session and release its stock; a paid one is left alone."""
    with app_context():
        return actions.expire(payment_id, Actor("system:expiry", "worker")).result


def refresh_payment(payment_id: int) -> str:
    """Re-fetch a payment from the PSP: the safety net when its webhook is late or lost."""
    with app_context():
        return actions.refresh(payment_id, Actor("system:refresh", "worker")).result


def resolve_payment(payment_id: int, attempt: int = 0) -> str:
    """Janitor: ask the PSP what happened to a payment whose outcome we don't know."""
    with app_context():
        try:
            outcome = actions.refresh(payment_id, Actor("system:janitor", "worker"))
        except ProviderError as exc:
            if exc.retryable:  # the PSP is down: still unknown, so keep to the cadence
                schedule_janitor(payment_id, attempt + 1)
            raise
        if outcome.status.value == "unknown":
            schedule_janitor(payment_id, attempt + 1)
        return outcome.result
