"""Buyer claims: a buyer's complaint to the platform about one order line.

Life of a claim (app/domain/dispute_states.py): the buyer opens it (the line's escrow freezes
and the seller has CLAIM_RESPONSE_DAYS to answer); the seller accepts (the line is refunded in
full, see decisions) or contests it with a message and evidence; either side may escalate
to support, and a claim whose `due_by` passes without the expected answer escalates by itself
(the seller's answer while OPEN, the buyer's next step while CONTESTED) so frozen money always
reaches a decision; the buyer may withdraw (the escrow follows its normal course again).

A claim on a line already released to its seller freezes nothing: the money is in the seller's
balance and is not held back; if the claim ends in a refund, it is clawed back from that balance
per the refunds policy (docs/money.md), which may leave the balance negative.

Every step writes the timeline (case_log), the audit log and the other side's notification in
the same transaction as the change.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from app.clock import now
from app.database import locked, unit_of_work
from app.domain.dispute_states import (
    CHARGEBACK_OPEN,
    CLAIM_OPEN,
    CaseKind,
    ClaimReason,
    ClaimStatus,
    Resolution,
    claim_transition,
)
from app.domain.transitions import ForbiddenMove
from app.extensions import db
from app.models import EscrowHold, Order, OrderLine, User
from app.models.disputes import CaseEvent, DisputeCase
from app.models.users import STAFF_ROLES
from app.services import audit, notifications
from app.services.audit import Actor
from app.services.disputes import case_log, evidence
from app.services.disputes.queries import (
    applying,
    case_refund,
    claim_refusal,
    line_refundable,
    response_days,
)
from app.services.errors import Conflict, NotFound, ServiceError
from app.services.money import escrow

S = ClaimStatus
MESSAGE_LIMIT = 4000
REASON_TEXT = {ClaimReason.NOT_RECEIVED: "item not received",
               ClaimReason.NOT_AS_DESCRIBED: "item not as described"}
# How each move is named when it is refused ("… it cannot be contested now").
VERBS = {S.CONTESTED: "contested", S.ESCALATED: "escalated", S.RESOLVED: "resolved",
         S.WITHDRAWN: "withdrawn"}
ESCALATOR = Actor("system:claim-escalation", "worker")


# --- moves ---------------------------------------------------------------------------------

def _reason(value: str) -> ClaimReason:
    try:
        return ClaimReason(value)
    except ValueError:
        raise ServiceError("Choose why you are opening a claim.") from None


def message_text(text: str | None, required: bool) -> str:
    """A message as sent: trimmed, present when required, within the limit."""
    body = (text or "").strip()
    if required and not body:
        raise ServiceError("Write a message: say what happened.")
    if len(body) > MESSAGE_LIMIT:
        raise ServiceError(f"A message has at most {MESSAGE_LIMIT} characters.")
    return body


def move(case: DisputeCase, target: ClaimStatus) -> None:
    """Change a claim's status through the domain's table; a refusal says why (409)."""
    try:
        case.status = claim_transition(case.state, target).value
    except ForbiddenMove as exc:
        raise Conflict(f"This claim is {case.status}; it cannot be {VERBS[target]} now.") from exc


def locked_claim(case_id: int) -> DisputeCase:
    """The claim, locked for update in the caller's transaction; NotFound for anything else."""
    case = locked(DisputeCase, case_id)
    if case is None or case.kind != CaseKind.CLAIM.value:
        raise NotFound("No such claim.")
    return case


def _party_role(case: DisputeCase, user_id: int, role: str) -> str:
    """The role the user acts in on this case; NotFound when they are not part of it."""
    if role == "buyer" and case.buyer_id == user_id:
        return role
    if role == "seller" and case.seller_id == user_id:
        return role
    user = db.session.get(User, user_id)
    if role in ("support", "admin") and user is not None and user.has_role(*STAFF_ROLES):
        return "support"
    raise NotFound("No such claim.")


def tell(case: DisputeCase, who: set[str], subject: str, body: str) -> None:
    """Notify the named sides of a case ("buyer", "seller", "support": the assignee)."""
    targets = {"buyer": case.buyer_id, "seller": case.seller_id, "support": case.assigned_to}
    for side in sorted(who):
        if targets.get(side) is not None:
            notifications.notify(targets[side], f"claim.{side}", f"Claim #{case.id}: {subject}",
                                 f"{body}\n\nClaim #{case.id} on order #{case.order_id}.")


def others(role: str) -> set[str]:
    """Everyone on a case but the one acting."""
    return {"buyer", "seller", "support"} - {role}


def log_message(case: DisputeCase, role: str, user_id: int | None, body: str,
                staged: list[evidence.StagedFile]) -> CaseEvent:
    """A message and its files on the timeline (caller's transaction)."""
    event = case_log.log(case, "message", role, body, actor_id=user_id,
                         files=[s.display_name for s in staged])
    for item in staged:
        evidence.attach(case, item, user_id, role, event)
    return event


def open_claim(buyer_id: int, order_line_id: int, reason: str, message: str, files,
               actor: Actor) -> DisputeCase:
    """The buyer opens a claim on one of their lines: escrow freezes, the seller is told."""
    why, body = _reason(reason), message_text(message, required=True)
    staged = evidence.stage_all(files)
    with evidence.kept_if_committed(staged), unit_of_work():
        line = db.session.get(OrderLine, order_line_id)
        if line is None or db.session.get(Order, line.order_id).buyer_id != buyer_id:
            raise NotFound("No such order line.")
        # The hold's lock serialises claims on one line (one open claim per line).
        hold = db.session.execute(select(EscrowHold).where(
            EscrowHold.order_line_id == line.id).with_for_update()).scalar_one_or_none()
        refusal = claim_refusal(hold, now())
        if refusal:
            raise Conflict(refusal)
        earlier = set(db.session.execute(select(DisputeCase.status).where(
            DisputeCase.order_line_id == line.id,
            DisputeCase.kind == CaseKind.CLAIM.value)).scalars())
        if earlier & {s.value for s in CLAIM_OPEN}:
            raise Conflict("There is already an open claim on this item.")
        if S.RESOLVED.value in earlier:
            # A decision is final: a new claim must not reopen what was settled.
            raise Conflict("A claim on this item was already decided.")
        payment = hold.order.current_payment
        case = DisputeCase(kind=CaseKind.CLAIM.value, status=S.OPEN.value, order_id=line.order_id,
                           payment_id=payment.id, order_line_id=line.id, buyer_id=buyer_id,
                           seller_id=line.seller_id, reason=why.value, currency=hold.currency,
                           amount=line_refundable(hold),
                           due_by=now() + timedelta(days=response_days()))
        db.session.add(case)
        db.session.flush()
        frozen = escrow.freeze(hold, actor, reason=f"claim:{case.id}")
        case_log.log(case, "status", "buyer", f"Claim opened: {REASON_TEXT[why]}.",
                     actor_id=buyer_id, status=S.OPEN.value, frozen=frozen,
                     escrow=hold.status, due_by=case.due_by)
        log_message(case, "buyer", buyer_id, body, staged)
        audit.record(actor, "claim.opened", f"case:{case.id}", line=line.id, reason=why.value,
                     amount=case.amount, frozen=frozen, files=len(staged))
        tell(case, {"seller"}, f"a buyer opened a claim on “{line.title}”",
             f"Reason: {REASON_TEXT[why]}.\n\n{body}\n\nPlease accept (refund) or contest it "
             f"with your evidence by {case.due_by:%d %B %Y %H:%M} UTC; after that it goes "
             "to our support team.")
    return case


def contest(seller_id: int, case_id: int, message: str, files, actor: Actor) -> DisputeCase:
    """The seller contests with a message and files (accepting is `decisions.accept`)."""
    body = message_text(message, required=True)
    staged = evidence.stage_all(files)
    with evidence.kept_if_committed(staged), unit_of_work():
        case = locked_claim(case_id)
        if case.seller_id != seller_id:
            raise NotFound("No such claim.")
        move(case, S.CONTESTED)
        # Now the buyer's turn: escalate, reply or withdraw; silence goes to support too.
        case.due_by = now() + timedelta(days=response_days())
        case_log.log(case, "status", "seller", "The seller contested the claim.",
                     actor_id=seller_id, status=case.status, due_by=case.due_by)
        log_message(case, "seller", seller_id, body, staged)
        audit.record(actor, "claim.contested", f"case:{case.id}", files=len(staged))
        tell(case, {"buyer", "support"}, "the seller contested your claim",
             f"{body}\n\nYou can reply, escalate the claim to our support team or withdraw it.")
    return case


def add_message(user_id: int, role: str, case_id: int, message: str, files,
                actor: Actor) -> CaseEvent:
    """A party (or support) writes on an open claim; the others are told."""
    body = message_text(message, required=True)
    staged = evidence.stage_all(files)
    with evidence.kept_if_committed(staged), unit_of_work():
        case = locked_claim(case_id)
        side = _party_role(case, user_id, role)
        if case.state not in CLAIM_OPEN:
            raise Conflict(f"This claim is {case.status}; no more messages can be added.")
        event = log_message(case, side, user_id, body, staged)
        audit.record(actor, "claim.message", f"case:{case.id}", role=side, files=len(staged))
        tell(case, others(side), f"new message from the {side}", body)
    return event


def escalate(user_id: int | None, role: str, case_id: int, actor: Actor,
             by_system: bool = False) -> DisputeCase:
    """Hand the claim to support (a party asked, or its deadline passed)."""
    with unit_of_work():
        case = locked_claim(case_id)
        return _escalate(case, user_id, role, actor, by_system)


def _escalate(case: DisputeCase, user_id: int | None, role: str, actor: Actor,
              by_system: bool) -> DisputeCase:
    side = "system" if by_system else _party_role(case, user_id, role)
    move(case, S.ESCALATED)
    case.escalated_at = now()
    # Support's own target for a decision; the dispute centre sorts by it.
    case.due_by = case.escalated_at + timedelta(days=response_days())
    text = ("The claim went to support: the answer it waited for did not come in time."
            if by_system else f"The {side} escalated the claim to support.")
    case_log.log(case, "status", side, text, actor_id=user_id, status=case.status,
                 due_by=case.due_by)
    audit.record(actor, "claim.escalated", f"case:{case.id}", by=side)
    tell(case, others(side), "now with our support team",
         f"{text} Support will look at the messages and evidence and decide.")
    return case


def withdraw(buyer_id: int, case_id: int, actor: Actor) -> DisputeCase:
    """The buyer takes the claim back: the line's escrow follows its normal course again."""
    with unit_of_work():
        case = locked_claim(case_id)
        if case.buyer_id != buyer_id:
            raise NotFound("No such claim.")
        if applying(case) or case_refund(case.id) is not None:
            raise Conflict("Support is applying a decision on this claim right now.")
        move(case, S.WITHDRAWN)
        case.resolution, case.resolved_at, case.due_by = Resolution.WITHDRAWN.value, now(), None
        unfrozen = thaw(case, actor)
        case_log.log(case, "status", "buyer", "The buyer withdrew the claim.", actor_id=buyer_id,
                     status=case.status, unfrozen=unfrozen)
        audit.record(actor, "claim.withdrawn", f"case:{case.id}", unfrozen=unfrozen)
        tell(case, {"seller", "support"}, "the buyer withdrew the claim",
             "The buyer withdrew the claim. The payment follows its normal course again.")
    return case


def thaw(case: DisputeCase, actor: Actor) -> bool:
    """Unfreeze the line this claim froze, unless another open case still needs it frozen."""
    froze = any(case_log.data_of(e).get("frozen") for e in case_log.events(
        case.id, include_internal=True) if e.kind == "status")
    if not froze:
        return False  # frozen by support (or not at all) before the claim: not ours to undo
    still_open = db.session.execute(select(DisputeCase.id).where(
        DisputeCase.payment_id == case.payment_id, DisputeCase.id != case.id,
        DisputeCase.status.in_([s.value for s in CLAIM_OPEN | CHARGEBACK_OPEN]))).first()
    if still_open:
        return False
    hold = db.session.execute(select(EscrowHold).where(
        EscrowHold.order_line_id == case.order_line_id).with_for_update()).scalar_one()
    return escrow.unfreeze(hold, actor, reason=f"claim:{case.id}")


def overdue(at: datetime) -> list[int]:
    """Claims still waiting for an answer whose deadline has passed."""
    return list(db.session.execute(select(DisputeCase.id).where(
        DisputeCase.kind == CaseKind.CLAIM.value,
        DisputeCase.status.in_([S.OPEN.value, S.CONTESTED.value]),
        DisputeCase.due_by <= at).order_by(DisputeCase.id)).scalars())


def escalate_overdue(at: datetime | None = None) -> list[int]:
    """Escalate every claim whose deadline passed unanswered; safe to run any number of times."""
    at = at or now()
    escalated = []
    for case_id in overdue(at):
        with unit_of_work():
            case = locked_claim(case_id)
            # Re-checked under the lock: a party may have answered since the query.
            if case.status in (S.OPEN.value, S.CONTESTED.value) and case.due_by <= at:
                _escalate(case, None, "system", ESCALATOR, by_system=True)
                escalated.append(case_id)
    return escalated
