"""The payouts a sweeper revisits: every non-terminal payout has an owner that looks at it again
on a schedule (booked but never accepted, accepted but never answered, paid but still returnable).
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import or_, select

from app.clock import now
from app.domain.payout_states import PayoutStatus as P
from app.extensions import db
from app.models.payouts import Payout


def stale_pending(older_than: timedelta = timedelta(minutes=10)) -> list[int]:
    """Payouts booked but never accepted by the PSP (the submit job was lost or kept failing)."""
    return list(db.session.execute(select(Payout.id).where(
        Payout.status == P.PENDING.value, Payout.needs_review.is_(False),
        Payout.created_at < now() - older_than)).scalars())


def overdue_in_transit(older_than: timedelta = timedelta(hours=6)) -> list[int]:
    """Payouts the PSP accepted long ago whose outcome never reached us (lost webhook)."""
    return list(db.session.execute(select(Payout.id).where(
        Payout.status == P.IN_TRANSIT.value, Payout.needs_review.is_(False),
        Payout.psp_reference.is_not(None), Payout.created_at < now() - older_than)
        .order_by(Payout.id)).scalars())


def recheck_due(window: timedelta = timedelta(days=30),
                every: timedelta = timedelta(days=1)) -> list[int]:
    """PAID payouts a bank may still send back, not asked about for a day (lost webhooks)."""
    cutoff = now() - every
    return list(db.session.execute(select(Payout.id).where(
        Payout.status == P.PAID.value, Payout.psp_reference.is_not(None),
        Payout.settled_at >= now() - window, Payout.settled_at < cutoff,
        or_(Payout.checked_at.is_(None), Payout.checked_at < cutoff)).order_by(Payout.id))
        .scalars())
