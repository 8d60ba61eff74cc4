"""How a claim ends with money moving: support's decision, or the seller accepting the claim.

refund_full   the buyer gets what is left of the line back;
refund_partial part back to the buyer; the rest of a held line stays frozen until support
              releases it (e.g. once a returned item has arrived);
release       the seller keeps the money: a held line is released now;
split         part back to the buyer, the rest of a held line released to the seller now.

A refund is the PSP's business and happens outside our transactions (refunds.request_refund
commits its row and idempotency key, then calls the PSP). So a decision runs in three steps:
1. under the case's lock: check, and mark the decision "applying" on the timeline, so a second
   decision (another agent, the seller accepting) is refused instead of refunding twice;
2. the refund, if any. If it fails before the PSP executed it, nothing else changes: the case
   stays open, the failure is on the timeline and the error says why;
3. under the lock again, in one transaction: release the rest, resolve the case, timeline,
   audit, notifications.
If the process dies between 2 and 3, the marker goes stale after `queries.STALE` and a new decision is
allowed; the refund already recorded for the case is then reused, not repeated.
"""
from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass

from sqlalchemy import select

from app.clock import now
from app.database import unit_of_work
from app.domain.dispute_states import CLAIM_OPEN, ClaimStatus, Resolution
from app.domain.escrow_states import EscrowStatus
from app.domain.money import Money, format_money
from app.extensions import db
from app.models import EscrowHold, User
from app.models.disputes import DisputeCase
from app.models.refunds import Refund
from app.models.users import STAFF_ROLES
from app.services import audit
from app.services.audit import Actor
from app.services.disputes import case_log, claims, queries
from app.services.errors import Conflict, NotFound, ServiceError
from app.services.money import escrow
from app.services.refunds import plans, refunds
from app.services.refunds.plans import RefundPlan

ACTIONS = ("refund_full", "refund_partial", "release", "split")
S = ClaimStatus


@dataclass(frozen=True)
class Decision:
    """What support decided: an action, and the buyer's refund for refund_partial and split."""

    action: str
    refund_amount: int | None = None


@dataclass(frozen=True)
class DecisionPreview:
    """Who pays what if a decision is applied now (minor units of `currency`)."""

    buyer_refund: int
    seller_clawback_from_balance: int        # taken from the seller's available balance
    seller_clawback_from_future_payouts: int  # beyond it: the balance goes negative
    from_escrow: int                         # refunded out of money still held
    released_to_seller: int                  # released now (net of the platform fee)
    platform_fee_kept: int
    platform_fee_returned: int
    psp_fee_lost: int                        # the PSP keeps its processing fee on the refund
    currency: str
    refund_plan: RefundPlan | None


def _hold(case: DisputeCase, lock: bool = False) -> EscrowHold:
    query = select(EscrowHold).where(EscrowHold.order_line_id == case.order_line_id)
    return db.session.execute(query.with_for_update() if lock else query).scalar_one()


def _refund_amount(hold: EscrowHold, decision: Decision) -> int:
    """The buyer's refund for a decision, checked against what the line still holds."""
    if decision.action not in ACTIONS:
        raise ServiceError("Choose refund in full, refund part, release or split.")
    left = queries.line_refundable(hold)
    if decision.action == "release":
        return 0
    if decision.action == "refund_full":
        if left <= 0:
            raise Conflict("Nothing is left to refund on this item.")
        return left
    amount = decision.refund_amount
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise ServiceError("Enter the amount to refund to the buyer.")
    if amount >= left:
        raise Conflict(f"A part must be less than the {format_money(Money(left, hold.currency))}"
                       " left on this item; use “refund in full” for all of it.")
    return amount


def preview_of(case: DisputeCase, hold: EscrowHold, decision: Decision) -> DecisionPreview:
    """The preview for a loaded case and hold (read-only)."""
    amount = _refund_amount(hold, decision)
    plan = plans.plan(case.payment_id, lines={case.order_line_id: amount}) \
        if amount else None
    parts = plan.lines if plan else ()
    from_escrow = sum(p.from_escrow for p in parts)
    clawback = sum(p.from_seller_balance for p in parts)
    future = sum(min(p.from_seller_balance, max(0, -p.seller_available_after)) for p in parts)
    fee_returned = sum(p.fee_returned for p in parts)
    released = 0
    if decision.action in ("release", "split") and hold.state in (EscrowStatus.HELD,
                                                                   EscrowStatus.ON_HOLD):
        released = (hold.remaining - from_escrow) - (hold.fee_remaining - fee_returned)
    return DecisionPreview(amount, clawback - future, future, from_escrow, released,
                           hold.fee_remaining - fee_returned, fee_returned,
                           plan.psp_fee_lost if plan else 0, case.currency, plan)


def _open_claim(case_id: int) -> DisputeCase:
    case = db.session.get(DisputeCase, case_id)
    if case is None or case.kind != "claim":
        raise NotFound("No such claim.")
    if case.state not in CLAIM_OPEN:
        raise Conflict(f"This claim is {case.status}; there is nothing left to decide.")
    return case


def decision_preview(case_id: int, decision: Decision) -> DecisionPreview:
    """Who would pay what if support applied this decision now (changes nothing)."""
    case = _open_claim(case_id)
    return preview_of(case, _hold(case), decision)


def _start(case_id: int, decision: Decision, role: str, user_id: int | None,
           actor: Actor) -> tuple[str, int, Refund | None, DecisionPreview]:
    """Step 1: check and mark the decision; (token, refund to ask for, reused refund, preview)."""
    with unit_of_work():
        case = claims.locked_claim(case_id)
        if role == "seller" and case.seller_id != user_id:
            raise NotFound("No such claim.")
        if case.state not in CLAIM_OPEN:
            raise Conflict(f"This claim is {case.status}; there is nothing left to decide.")
        if queries.applying(case):
            raise Conflict("A decision on this claim is being applied; reload in a moment.")
        hold = _hold(case, lock=True)
        earlier = queries.case_refund(case.id)  # a decision that died after its refund
        if earlier is not None:
            preview = DecisionPreview(earlier.amount, 0, 0, 0, 0, 0, 0, 0, case.currency, None)
            if decision.action == "release" or (
                    decision.action != "refund_full" and decision.refund_amount != earlier.amount):
                raise Conflict(f"A refund of {format_money(earlier.total)} was already made on "
                               "this claim; decide with that amount.")
        else:
            preview = preview_of(case, hold, decision)
        token = secrets.token_hex(8)
        case_log.log(case, "decision", role, "Applying a decision.", actor_id=user_id,
                     internal=True, state="applying", token=token, action=decision.action)
        audit.record(actor, "claim.decision_started", f"case:{case.id}", decision=decision.action,
                     refund=preview.buyer_refund)
    return token, 0 if earlier else preview.buyer_refund, earlier, preview


def _failed(case_id: int, token: str, role: str, user_id: int | None, decision: Decision,
            message: str, actor: Actor) -> None:
    with unit_of_work():
        case = claims.locked_claim(case_id)
        case_log.log(case, "decision", role, f"The decision could not be applied: {message}",
                     actor_id=user_id, internal=True, state="failed", token=token,
                     action=decision.action)
        audit.record(actor, "claim.decided", f"case:{case.id}", outcome="failure",
                     decision=decision.action, reason=message)


def _refund(case_id: int, amount: int, token: str, role: str, user_id: int | None,
            decision: Decision, actor: Actor) -> Refund:
    """Step 2: the refund at the PSP; a refusal (RefundFailed) or any other error leaves the
    case open, on the timeline, and says why."""
    case = db.session.get(DisputeCase, case_id)
    try:
        refund = refunds.request_refund(
            case.payment_id, lines={case.order_line_id: amount},
            reason=f"claim #{case_id}: {decision.action.replace('_', ' ')}", actor=actor,
            by="support" if role == "support" else "system", case_id=case_id)
    except ServiceError as exc:
        _failed(case_id, token, role, user_id, decision, exc.message, actor)
        exc.audited = True
        raise
    except Exception:
        # Not a refusal we can explain: still close the marker, so the case is not blocked.
        _failed(case_id, token, role, user_id, decision, "an unexpected error", actor)
        raise
    return refund  # SUCCEEDED, or PENDING until the PSP says (it settles the case's refund)


RESOLUTIONS = {"refund_full": Resolution.REFUND_FULL, "refund_partial": Resolution.REFUND_PARTIAL,
               "release": Resolution.RELEASE, "split": Resolution.SPLIT}


def _summary(decision: Decision, preview: DecisionPreview, who: str) -> str:
    def money(amount: int) -> str:
        return format_money(Money(amount, preview.currency))

    parts = {"refund_full": f"{money(preview.buyer_refund)} refunded to the buyer in full",
             "refund_partial": f"{money(preview.buyer_refund)} refunded to the buyer; the rest "
                               "stays held until support releases it",
             "release": "the seller keeps the payment"
                        + (f" ({money(preview.released_to_seller)} released now)"
                           if preview.released_to_seller else ""),
             "split": f"{money(preview.buyer_refund)} refunded to the buyer, the rest to the "
                      "seller"
                      + (f" ({money(preview.released_to_seller)} released now)"
                         if preview.released_to_seller else "")}
    return f"{who}: {parts[decision.action]}."


def _finish(case_id: int, decision: Decision, preview: DecisionPreview, token: str, role: str,
            user_id: int | None, refund: Refund | None, actor: Actor,
            message: str = "") -> DisputeCase:
    """Step 3: release what the decision releases and resolve the case, in one transaction."""
    with unit_of_work():
        case = claims.locked_claim(case_id)
        hold = _hold(case, lock=True)
        released = False
        if decision.action in ("release", "split") and hold.state in (EscrowStatus.HELD,
                                                                       EscrowStatus.ON_HOLD):
            escrow.release_now(hold, "support" if role == "support" else "seller", actor)
            released = True
        claims.move(case, S.RESOLVED)
        case.resolution = RESOLUTIONS[decision.action].value
        case.resolved_at, case.due_by = now(), None
        who = "The seller accepted the claim" if role == "seller" else "Support decided"
        text = _summary(decision, preview, who)
        if message:
            claims.log_message(case, role, user_id, message, [])
        case_log.log(case, "decision", role, text, actor_id=user_id, state="applied",
                     token=token, action=decision.action, resolution=case.resolution,
                     refund_id=refund.id if refund else None,
                     refund_status=refund.status if refund else None, released=released,
                     **{k: v for k, v in asdict(preview).items() if k != "refund_plan"})
        audit.record(actor, "claim.decided", f"case:{case.id}", decision=decision.action,
                     refund=preview.buyer_refund, refund_id=refund.id if refund else None,
                     released=released, by=role)
        claims.tell(case, claims.others(role), "decided", text)
    return case


def _apply(case_id: int, decision: Decision, actor: Actor, role: str, user_id: int | None,
           message: str = "") -> DisputeCase:
    token, amount, refund, preview = _start(case_id, decision, role, user_id, actor)
    if amount:
        refund = _refund(case_id, amount, token, role, user_id, decision, actor)
    return _finish(case_id, decision, preview, token, role, user_id, refund, actor, message)


def decide(case_id: int, decision: Decision, actor: Actor) -> DisputeCase:
    """Support applies a decision to an open claim (refund, release or split)."""
    user = db.session.get(User, actor.user_id) if actor.user_id else None
    if user is None or not user.has_role(*STAFF_ROLES):
        raise NotFound("No such claim.")
    try:
        return _apply(case_id, decision, actor, "support", user.id)
    except ServiceError as exc:
        if not getattr(exc, "audited", False):
            # A refused staff action is recorded too (PCI DSS 10.2.1), in its own transaction.
            with unit_of_work():
                audit.record(actor, "claim.decided", f"case:{case_id}", outcome="failure",
                             decision=decision.action, reason=exc.message)
        raise


def accept(seller_id: int, case_id: int, message: str, actor: Actor) -> DisputeCase:
    """The seller accepts the claim: what is left of the line goes back to the buyer."""
    return _apply(case_id, Decision("refund_full"), actor, "seller", seller_id,
                  claims.message_text(message, required=False))
