"""Jobs that settle refunds the PSP has not answered yet (timeouts, lost webhooks)."""
from __future__ import annotations

from app.jobs.context import app_context
from app.providers.base import ProviderError
from app.services.audit import Actor
from app.services.refunds import refunds

SETTLER = Actor("system:refund-settler", "worker")


def settle_refund(refund_id: int) -> str:
    """Ask the PSP how a PENDING refund ended and apply it; reschedules while still pending."""
    with app_context():
        refund = refunds.refresh(refund_id, SETTLER)
        return refund.status if refund is not None else "missing"


def settle_pending() -> int:
    """The periodic safety net: re-fetch every refund PENDING for a while (returns how many),
    and re-check succeeded refunds that may still fail late (their webhook may be lost)."""
    with app_context():
        ids = refunds.pending_ids()
        unreachable: list[ProviderError] = []
        for refund_id, act in [(i, refunds.refresh) for i in ids] + [
                (i, refunds.recheck) for i in refunds.recheck_due()]:
            try:
                act(refund_id, SETTLER)
            except ProviderError as exc:
                if not exc.retryable:
                    raise
                unreachable.append(exc)  # one PSP hiccup must not starve the other refunds
        if unreachable:
            raise unreachable[0]  # fail loudly; the next run tries again
        return len(ids)
