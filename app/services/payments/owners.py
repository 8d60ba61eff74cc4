"""Every non-terminal payment state has an owner that revisits it on a schedule.

A job enqueued after a commit can be lost (Redis down, worker killed between the commit and the
enqueue). Each state's own job is the fast path; this periodic sweep is the owner of last
resort, and asks only about payments that stayed put longer than their job should have taken:

| state | its own job | what the sweep does when that job was lost |
|---|---|---|
| AUTHORIZED (auto-capture) | capture | capture (same key: the PSP captures once) |
| AUTHORIZING (Drop-in call died) | the nonce request | re-fetch by reference; no sale → FAILED |
| PROCESSING, REQUIRES_ACTION, DECLINED | expiry | expire (the PSP's state wins if the buyer paid) |
| INITIATED (no session made) | the buyer's retry | expire after a session's lifetime |
| UNKNOWN | janitor | schedule the janitor again, unless it already handed the payment to support |

Refunds (`jobs.refunds.settle_pending`) and payouts (`jobs.payouts.run_payouts`,
`jobs.payouts.sweep_in_transit`) have their own sweeps.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from flask import current_app
from sqlalchemy import and_, or_, select

from app.clock import now
from app.domain.payment_states import PaymentStatus
from app.extensions import db
from app.models import Payment
from app.models.captures import LineCapture
from app.services.fraud import screening
from app.services.payments import janitor

S = PaymentStatus
GRACE = timedelta(minutes=10)   # far longer than any job's own path takes


@dataclass
class Overdue:
    """Payment ids per action the sweep takes."""

    capture: list[int] = field(default_factory=list)
    refresh: list[int] = field(default_factory=list)
    expire: list[int] = field(default_factory=list)
    janitor: list[int] = field(default_factory=list)


def overdue(grace: timedelta = GRACE) -> Overdue:
    """What the sweep must revisit now."""
    cutoff = now() - grace
    found = Overdue()

    def ids(*conditions) -> list[int]:
        return list(db.session.execute(select(Payment.id).where(*conditions)
                                       .order_by(Payment.id)).scalars())

    if current_app.config["AUTO_CAPTURE"]:
        found.capture = ids(Payment.status == S.AUTHORIZED.value,
                            Payment.give_back.is_(None), Payment.needs_review.is_(False),
                            # Held by fraud screening: only a person's approval captures it.
                            or_(Payment.review_status.is_(None),
                                Payment.review_status.not_in(screening.HOLDS_ORDER)),
                            # Captured per shipment: captures.overdue owns those.
                            ~select(LineCapture.id).where(
                                LineCapture.payment_id == Payment.id).exists(),
                            Payment.updated_at < cutoff)
    found.refresh = ids(Payment.status == S.AUTHORIZING.value, Payment.updated_at < cutoff)
    # A session the janitor adopted (its create call timed out after the PSP made it) has no
    # expiry of ours: it is due once a whole session lifetime has passed since it last moved.
    unset = now() - grace - timedelta(seconds=current_app.config["PAYMENT_SESSION_TTL"])
    # INITIATED: no session was made (its create call certainly failed, or the request died
    # before it) and the buyer did not try again within a session's lifetime: expired, so its
    # stock goes back (found by the simulation: such a payment stayed INITIATED for good).
    found.expire = ids(or_(
        and_(Payment.status.in_([S.PROCESSING.value, S.REQUIRES_ACTION.value,
                                 S.DECLINED.value]),
             or_(Payment.expires_at < cutoff,
                 and_(Payment.expires_at.is_(None), Payment.updated_at < unset))),
        and_(Payment.status == S.INITIATED.value, Payment.updated_at < unset)))
    found.janitor = [row.payment.id for row in janitor.unknown_payments()
                     if row.given_up and not row.payment.needs_review
                     and row.payment.updated_at < cutoff]
    return found
