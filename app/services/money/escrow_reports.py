"""Escrow holds as people read them: each with its reason and predicted release date.

Read-only: the seller's dashboard, the buyer's order page and support's payment page all show
holds through here, so they all say the same thing about the same money.

Amounts: a hold shows what is still in escrow for its line, before the platform's fee (the
line's captured share less what went back to the buyer) — the convention of the ledger's escrow
account, so the seller's "In escrow" figure is the sum of the lines listed under it. What the
seller will receive (after the fee) is said next to it, labelled.

A frozen hold names the case that froze it (a buyer's claim on the line, or a chargeback on
the order), so the reason says which and the page can link to it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.clock import now
from app.domain.dispute_states import CHARGEBACK_OPEN, CLAIM_OPEN, CaseKind
from app.domain.escrow_states import EscrowStatus
from app.extensions import db
from app.models.disputes import DisputeCase
from app.models.escrow import EscrowHold
from app.services.money import escrow


@dataclass(frozen=True)
class ExplainedHold:
    """A hold with what `escrow.explain` says about it."""

    hold: EscrowHold
    reason: str
    release_on: datetime | None
    case: DisputeCase | None = None   # the open claim or chargeback holding it, if any

    @property
    def status(self) -> str:
        """The hold's status value (held, on_hold, released)."""
        return self.hold.status

    @property
    def shipped(self) -> bool:
        """Whether the seller marked the line shipped."""
        return self.hold.shipped_at is not None

    @property
    def refunded(self) -> bool:
        """All of the line's money went back to the buyer."""
        return self.hold.state == EscrowStatus.REFUNDED

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

    @property
    def claimed(self) -> bool:
        """An open buyer's claim is about this line: its decision moves the money."""
        return self.case is not None and self.case.kind == CaseKind.CLAIM.value

    @property
    def releasable(self) -> bool:
        """Support may release it: still in escrow and no open claim decides it."""
        return self.hold.state in (EscrowStatus.HELD, EscrowStatus.ON_HOLD) and not self.claimed


def explained(holds: list[EscrowHold], at: datetime | None = None) -> list[ExplainedHold]:
    """Each hold with its reason and predicted release date as of `at` (default: now)."""
    at = at or now()
    days = escrow.auto_release_days()
    cases = open_cases(holds)
    result = []
    for hold in holds:
        explanation = escrow.explain(hold, at, days)
        case = cases.get(hold.id)
        reason = explanation.reason
        if case is not None and hold.state == EscrowStatus.ON_HOLD:
            reason = (f"held while the buyer's claim (case #{case.id}) is settled"
                      if case.kind == CaseKind.CLAIM.value else
                      f"held while the buyer's bank disputes the payment "
                      f"(chargeback, case #{case.id})")
        result.append(ExplainedHold(hold, reason, explanation.release_on, case))
    return result


def open_cases(holds: list[EscrowHold]) -> dict[int, DisputeCase]:
    """Hold id → the open case about it: a claim on its line first, else a chargeback on its
    order."""
    if not holds:
        return {}
    open_statuses = [s.value for s in CLAIM_OPEN | CHARGEBACK_OPEN]
    cases = db.session.execute(select(DisputeCase).where(
        DisputeCase.order_id.in_({h.order_id for h in holds}),
        DisputeCase.status.in_(open_statuses)).order_by(DisputeCase.id)).scalars().all()
    claims = {c.order_line_id: c for c in cases if c.kind == CaseKind.CLAIM.value}
    chargebacks = {c.order_id: c for c in cases if c.kind == CaseKind.CHARGEBACK.value}
    found = {}
    for hold in holds:
        case = claims.get(hold.order_line_id) or chargebacks.get(hold.order_id)
        if case is not None:
            found[hold.id] = case
    return found


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
