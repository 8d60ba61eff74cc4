"""Escrow holds as people read them: each with its reason and predicted release date.

Read-only: the seller's dashboard, the buyer's order page and support's payment page all show
holds through here, so they all say the same thing about the same money.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.clock import now
from app.domain.escrow_states import EscrowStatus
from app.extensions import db
from app.models.escrow import EscrowHold
from app.services.money import escrow


@dataclass(frozen=True)
class ExplainedHold:
    """A hold with what `escrow.explain` says about it."""

    hold: EscrowHold
    reason: str
    release_on: datetime | None

    @property
    def status(self) -> str:
        """The hold's status value (held, on_hold, released)."""
        return self.hold.status

    @property
    def shipped(self) -> bool:
        """Whether the seller marked the line shipped."""
        return self.hold.shipped_at is not None

    @property
    def released(self) -> bool:
        """Whether the seller's share has left escrow."""
        return self.hold.state == EscrowStatus.RELEASED

    @property
    def latest(self) -> bool:
        """The date is a deadline ("… or 8 December at the latest"), not a past event."""
        return self.hold.state == EscrowStatus.HELD and self.shipped

    @property
    def buyer_can_confirm(self) -> bool:
        """The buyer may confirm receipt: shipped and still held (not with support)."""
        return self.latest


def explained(holds: list[EscrowHold], at: datetime | None = None) -> list[ExplainedHold]:
    """Each hold with its reason and predicted release date as of `at` (default: now)."""
    at = at or now()
    days = escrow.auto_release_days()
    return [ExplainedHold(h, *_parts(escrow.explain(h, at, days))) for h in holds]


def _parts(explanation: escrow.HoldExplanation) -> tuple[str, datetime | None]:
    return explanation.reason, explanation.release_on


def for_order(order_id: int) -> dict[int, ExplainedHold]:
    """The order's holds by order line id (empty until the payment is captured)."""
    holds = db.session.execute(
        select(EscrowHold).where(EscrowHold.order_id == order_id)
        .options(selectinload(EscrowHold.line)).order_by(EscrowHold.id)).scalars().all()
    return {row.hold.order_line_id: row for row in explained(list(holds))}


def open_for_seller(seller_id: int, limit: int = 100) -> list[ExplainedHold]:
    """The seller's holds still in escrow (held or with support), oldest first."""
    holds = db.session.execute(
        select(EscrowHold).where(EscrowHold.seller_id == seller_id,
                                 EscrowHold.status.not_in([EscrowStatus.RELEASED.value,
                                                           EscrowStatus.REFUNDED.value]))
        .options(selectinload(EscrowHold.line)).order_by(EscrowHold.id).limit(limit)
    ).scalars().all()
    return explained(list(holds))
