"""Reading buyer claims: whose they are, what a line can still claim, the timeline. Pure
queries, no commits; claims (this package) holds the moves."""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from app.clock import now
from app.domain.dispute_states import CLAIM_OPEN, CaseKind, ClaimStatus
from app.domain.escrow_states import EscrowStatus
from app.domain.payment_states import PaymentStatus
from app.domain.refund_states import ACTIVE
from app.extensions import db
from app.models import EscrowHold, Order
from app.models.disputes import CaseEvent, DisputeCase
from app.models.refunds import Refund
from app.models.users import STAFF_ROLES
from app.services.disputes import case_log
from app.services.errors import NotFound
from app.services.refunds import plans

S = ClaimStatus
# A payment in these states has money a claim can still ask back.
# A partially captured one (per shipment) has its captured lines' money.
CLAIMABLE_PAYMENTS = frozenset({PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_CAPTURED,
                                PaymentStatus.COMPLETED, PaymentStatus.PARTIALLY_REFUNDED})

def window_days() -> int:
    """Days after release during which a buyer may still open a claim."""
    return int(current_app.config["CLAIM_WINDOW_DAYS"])


def response_days() -> int:
    """Days the other side has to answer before the claim goes to support."""
    return int(current_app.config["CLAIM_RESPONSE_DAYS"])


def buyer_case(case_id: int, buyer_id: int) -> DisputeCase:
    """The buyer's own claim, or NotFound (never another buyer's)."""
    case = db.session.get(DisputeCase, case_id)
    if case is None or case.kind != CaseKind.CLAIM.value or case.buyer_id != buyer_id:
        raise NotFound("No such claim.")
    return case


def seller_case(case_id: int, seller_id: int) -> DisputeCase:
    """A claim on one of the seller's lines, or NotFound."""
    case = db.session.get(DisputeCase, case_id)
    if case is None or case.kind != CaseKind.CLAIM.value or case.seller_id != seller_id:
        raise NotFound("No such claim.")
    return case


def for_user(user_id: int, role: str, limit: int = 200) -> list[DisputeCase]:
    """A buyer's claims or the claims on a seller's lines, open ones first, newest first."""
    column = DisputeCase.buyer_id if role == "buyer" else DisputeCase.seller_id
    open_first = DisputeCase.status.in_([s.value for s in CLAIM_OPEN]).desc()
    return list(db.session.execute(
        select(DisputeCase).where(DisputeCase.kind == CaseKind.CLAIM.value, column == user_id)
        .order_by(open_first, DisputeCase.id.desc()).limit(limit)).scalars())


def timeline(case_id: int, *, viewer_role: str) -> list[CaseEvent]:
    """A case's events, oldest first; support's internal notes only for support and admins."""
    return case_log.events(case_id, include_internal=viewer_role in {r.value for r in STAFF_ROLES})


def line_refundable(hold: EscrowHold) -> int:
    """What of a line can still go back to the buyer (pending refunds already promise theirs)."""
    return plans.room(hold, plans.pending_by_hold(hold.order.current_payment.id))


def claim_refusal(hold: EscrowHold | None, at: datetime) -> str | None:
    """Why no claim can be opened on a line now, or None."""
    if hold is None:
        return "This item has not been paid for yet."
    payment = hold.order.current_payment
    if payment is not None and plans.open_chargeback(payment):
        return "Your bank is already disputing this payment; it will settle the matter."
    if payment is None or payment.state not in CLAIMABLE_PAYMENTS:
        return "This payment cannot be claimed against any more."
    if hold.state == EscrowStatus.RELEASED and \
            hold.released_at + timedelta(days=window_days()) < at:
        return (f"Claims can be opened up to {window_days()} days after the seller was paid; "
                "that time has passed for this item.")
    if line_refundable(hold) <= 0:
        return "This item has already been refunded."
    return None


def line_claims(order_id: int) -> dict[int, tuple[DisputeCase | None, bool]]:
    """For the buyer's order page: per line, its latest claim and whether one can be opened
    (not while one is open, nor once one was decided; again after a withdrawal)."""
    at = now()
    cases: dict[int, DisputeCase] = {}
    for case in db.session.execute(select(DisputeCase).where(
            DisputeCase.order_id == order_id, DisputeCase.kind == CaseKind.CLAIM.value)
            .order_by(DisputeCase.id)).scalars():
        cases[case.order_line_id] = case
    holds = db.session.execute(select(EscrowHold).where(EscrowHold.order_id == order_id)).scalars()
    by_line = {h.order_line_id: h for h in holds}
    result = {}
    for line in db.session.get(Order, order_id).lines:
        latest = cases.get(line.id)
        busy = latest is not None and latest.status != S.WITHDRAWN.value
        result[line.id] = (latest, not busy and claim_refusal(by_line.get(line.id), at) is None)
    return result


# A decision marked "applying" longer ago than this died mid-way; a new one may start.
STALE = timedelta(minutes=10)


def applying(case: DisputeCase) -> bool:
    """True while a decision on this case is between its refund and its resolution."""
    started = {}
    for event in case_log.events(case.id, include_internal=True):
        if event.kind != "decision":
            continue
        data = case_log.data_of(event)
        if data.get("state") == "applying":
            started[data.get("token")] = event.created_at
        else:
            started.pop(data.get("token"), None)
    return any(now() - at < STALE for at in started.values())


def case_refund(case_id: int) -> Refund | None:
    """The refund a decision on this case already made (pending or succeeded), if any."""
    return db.session.execute(select(Refund).where(
        Refund.case_id == case_id, Refund.status.in_([s.value for s in ACTIVE]))
        .order_by(Refund.id.desc()).limit(1)).scalar_one_or_none()
