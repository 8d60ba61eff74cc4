"""Jobs that move payments forward: capture, expiry, and the janitor for UNKNOWN outcomes."""
from __future__ import annotations

from app.jobs.context import app_context
from app.providers.base import ProviderError
from app.services.audit import Actor
from app.services.payments import actions, captures, give_back, janitor, owners
from app.services.payments.janitor import schedule_janitor

SWEEPER = Actor("system:payment-sweep", "worker")


def capture_payment(payment_id: int) -> str:
    """Capture an authorized payment (auto-capture); safe to run twice."""
    with app_context():
        return actions.capture(payment_id, Actor("system:capture", "worker")).result


def capture_shipped(payment_id: int) -> str:
    """Capture the lines of a payment that just shipped (per-shipment capture); safe to run
    twice: the lines and key of a capture are fixed before the PSP is asked."""
    with app_context():
        return captures.capture_due(payment_id, Actor("system:capture", "worker")).result


def void_uncaptured() -> dict[str, int]:
    """Periodic owner of per-shipment captures: past the deadline, capture what shipped and
    void the rest; lines due whose capture job was lost are captured."""
    with app_context():
        void, stuck = captures.overdue()
        failures: list[ProviderError] = []
        done = {"voided": 0, "captured": 0}
        for payment_id, act in ([(p, captures.void_rest) for p in void]
                                + [(p, captures.capture_due) for p in stuck]):
            try:
                result = act(payment_id, SWEEPER)
            except ProviderError as exc:
                if not exc.retryable:
                    raise
                failures.append(exc)  # one PSP hiccup must not starve the others
                continue
            done["voided"] += result.voided
            done["captured"] += result.captured
        if failures:
            raise failures[0]  # fail loudly; the next run tries again
        return done


def expire_payment(payment_id: int) -> str:
    """Expire an abandoned session and release its stock; a paid one is left alone."""
    with app_context():
        return actions.expire(payment_id, Actor("system:expiry", "worker")).result


def give_back_payment(payment_id: int) -> str:
    """Void or refund money a payment must not keep (a duplicate, a late authorization)."""
    with app_context():
        return give_back.run(payment_id, Actor("system:give-back", "worker"))


def refresh_payment(payment_id: int) -> str:
    """Re-fetch a payment from the PSP: the safety net when its webhook is late or lost."""
    with app_context():
        return actions.refresh(payment_id, Actor("system:refresh", "worker")).result


def resolve_payment(payment_id: int, attempt: int = 0) -> str:
    """Janitor: ask the PSP what happened to a payment whose outcome we don't know."""
    with app_context():
        actor = Actor("system:janitor", "worker")
        try:
            outcome = actions.refresh(payment_id, actor)
        except ProviderError as exc:
            if exc.retryable:  # the PSP is down: still unknown, so keep to the cadence
                _next_try(payment_id, attempt, actor)
            raise
        if outcome.status.value == "unknown":
            _next_try(payment_id, attempt, actor)
        return outcome.result


def _next_try(payment_id: int, attempt: int, actor: Actor) -> None:
    if not schedule_janitor(payment_id, attempt + 1):
        janitor.hand_to_support(payment_id, actor)


def sweep_payments() -> dict[str, int]:
    """The periodic owner of every non-terminal payment whose own job was lost."""
    with app_context():
        due = owners.overdue()
        failures: list[ProviderError] = []
        for ids, act in ((due.capture, actions.capture), (due.refresh, actions.refresh),
                         (due.expire, actions.expire)):
            for payment_id in ids:
                try:
                    act(payment_id, SWEEPER)
                except ProviderError as exc:
                    if not exc.retryable:
                        raise
                    failures.append(exc)  # one PSP hiccup must not starve the others
        for payment_id in due.janitor:
            schedule_janitor(payment_id)
        if failures:
            raise failures[0]  # fail loudly; the next run tries again
        return {"capture": len(due.capture), "refresh": len(due.refresh),
                "expire": len(due.expire), "janitor": len(due.janitor)}
