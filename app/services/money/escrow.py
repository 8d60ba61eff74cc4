"""Escrow per order line: hold at capture, release on receipt, timer or support decision."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from app.clock import now
from app.database import locked, retry_transient, unit_of_work
from app.domain import ledger as rules
from app.domain.dispute_states import CLAIM_OPEN, CaseKind
from app.domain.escrow_states import TRANSITIONS, EscrowStatus, transition
from app.domain.fees import FeeRule, choose_rule, platform_fee, split_capture
from app.extensions import db, queues
from app.models import Item, Order, Payment
from app.models.disputes import DisputeCase
from app.models.escrow import EscrowHold
from app.services import audit, order_emails
from app.services.audit import Actor
from app.services.errors import Conflict, NotFound
from app.services.money import (
    cross_currency,
    escrow_open,  # noqa: F401  (keeps open escrow by day)
    fee_rules,
    ledger,
)

H = EscrowStatus


@dataclass(frozen=True)
class HoldExplanation:
    """Why money is held and when it is expected to be released (None: nobody can say yet)."""

    reason: str
    release_on: datetime | None


def auto_release_days() -> int:
    """Days after shipment before escrow releases by itself."""
    return int(current_app.config["ESCROW_AUTO_RELEASE_DAYS"])


def explain(hold: EscrowHold, at: datetime, days: int) -> HoldExplanation:
    """The reason and predicted release date shown to the seller and the buyer."""
    if hold.state == H.RELEASED:
        return HoldExplanation("released to the seller", hold.released_at)
    if hold.state == H.REFUNDED:
        return HoldExplanation("refunded to the buyer", None)
    if hold.state == H.ON_HOLD:
        return HoldExplanation("held by support while a question is settled", None)
    if hold.shipped_at is None:
        return HoldExplanation(f"held until the seller ships and the buyer confirms receipt, "
                               f"or {days} days after shipment at the latest",
                               at + timedelta(days=days))
    return HoldExplanation("held until the buyer confirms receipt", hold.release_due_at)


def hold_captured(payment: Payment, lines: list | None = None, amount: int | None = None,
                  psp_fee: int | None = None, intent: str | None = None) -> bool:
    """Split a captured payment into escrow holds and post the capture (caller's transaction).

    Runs once per payment: the capture posting's intent is unique. A per-shipment capture
    (services/payments/captures) passes the lines it captured, their amount, the PSP's fee for
    that capture and its own intent: those lines alone are held and posted.
    """
    intent = intent or f"capture:payment:{payment.id}"
    order = db.session.get(Order, payment.order_id)
    lines = list(order.lines) if lines is None else lines
    amount = payment.amount_captured if amount is None else amount
    psp_fee = (payment.psp_fee_amount or 0) if psp_fee is None else psp_fee
    default = fee_rules.default_rule()
    seller_rules = fee_rules.rules_at_capture(order.seller_ids)

    def rule_of(line) -> FeeRule:
        if line.fee_rule is not None:  # fixed when the order was placed
            return line.fee_rule
        # A line placed before fees were fixed on lines (migration 0023): today's rules.
        category = db.session.get(Item, line.item_id).category
        return choose_rule(category, seller_rules[line.seller_id], default)[0]

    if not order.plain:
        # Converted or taxed: holds in each seller's currency, the capture posted per currency.
        return cross_currency.hold_captured(payment, order, rule_of, lines=lines, amount=amount,
                                            psp_fee=psp_fee, intent=intent)
    shares = split_capture(amount, [line.line_total for line in lines])
    per_seller: dict[int, int] = defaultdict(int)
    holds = []
    for line, share in zip(lines, shares):
        fee = platform_fee(share, rule_of(line))
        per_seller[line.seller_id] += share
        holds.append(EscrowHold(order_line_id=line.id, order_id=order.id,
                                seller_id=line.seller_id, currency=payment.currency,
                                gross_amount=share, fee_amount=fee))
    posting = rules.capture(payment.provider, payment.currency, amount, psp_fee,
                            dict(per_seller))
    if not ledger.post(posting, intent, payment_id=payment.id, psp_ref=payment.psp_reference):
        return False
    db.session.add_all(holds)
    db.session.flush()
    return True


@retry_transient
def mark_shipped(seller_id: int, hold_id: int, tracking_ref: str, actor: Actor) -> None:
    """The seller shipped the line: the auto-release timer starts."""
    with unit_of_work():
        hold = locked(EscrowHold, hold_id)
        if hold is None or hold.seller_id != seller_id:
            raise NotFound("No such order line.")
        due = note_shipped(hold, tracking_ref, actor)
        # The carrier-aware path (services/shop/fulfilment.mark_shipped) tells the buyer itself.
        order_emails.line_shipped(hold)
    schedule_release(hold_id, due)


def note_shipped(hold: EscrowHold, tracking_ref: str | None, actor: Actor) -> datetime:
    """Start a shipped line's auto-release timer (caller's transaction); when it is due. The
    caller enqueues `schedule_release` after its commit."""
    if hold.shipped_at is not None:
        raise Conflict("This line is already marked as shipped.")
    hold.shipped_at = now()
    hold.tracking_ref = (tracking_ref or "").strip()[:64] or None
    hold.release_due_at = hold.shipped_at + timedelta(days=auto_release_days())
    audit.record(actor, "escrow.shipped", f"escrow:{hold.id}", tracking=hold.tracking_ref)
    return hold.release_due_at


def schedule_release(hold_id: int, due: datetime) -> None:
    """Queue the line's release for when its timer runs out (after the commit)."""
    queues.queue.enqueue_at(due, "app.jobs.escrow.release_if_due", hold_id,
                            job_id=f"escrow-release-{hold_id}")


@retry_transient
def confirm_receipt(buyer_id: int, hold_id: int, actor: Actor) -> None:
    """The buyer received the item: release the seller's share now."""
    with unit_of_work():
        hold = locked(EscrowHold, hold_id)
        if hold is None or db.session.get(Order, hold.order_id).buyer_id != buyer_id:
            raise NotFound("No such order line.")
        if hold.shipped_at is None:
            raise Conflict("The seller has not shipped this item yet.")
        if hold.state == H.RELEASED:
            return
        if hold.state == H.REFUNDED:
            raise Conflict("This line was refunded; there is nothing left to release.")
        if hold.state == H.ON_HOLD:
            raise Conflict("Support is looking at this order; they will release the payment.")
        _release(hold, "buyer", actor)


@retry_transient
def release_if_due(hold_id: int, actor: Actor, at: datetime | None = None) -> bool:
    """Release a shipped, held line whose timer has run out; False when not (yet) due."""
    with unit_of_work():
        hold = locked(EscrowHold, hold_id)
        at = at or now()
        if (hold is None or hold.state != H.HELD or hold.release_due_at is None
                or hold.release_due_at > at):
            return False
        _release(hold, "timer", actor)
        return True


def release_due_batch(actor: Actor, at: datetime | None = None, limit: int = 200) -> int:
    """Release up to `limit` due lines in one transaction, their postings written together
    (ledger.post_many); how many were released. The sweep calls it until it returns less
    than limit. Each line is checked, transitioned and audited as release_if_due does."""
    at = at or now()
    with unit_of_work():
        holds = list(db.session.execute(
            select(EscrowHold).where(EscrowHold.status == H.HELD.value,
                                     EscrowHold.release_due_at <= at)
            .order_by(EscrowHold.id).limit(limit).with_for_update()).scalars())
        batch = [_mark_released(hold, "timer", actor) for hold in holds]
        ledger.post_many(batch)
    return len(holds)


def due_for_release(at: datetime) -> list[int]:
    """Held lines whose auto-release time has passed."""
    return list(db.session.execute(select(EscrowHold.id).where(
        EscrowHold.status == H.HELD.value, EscrowHold.release_due_at <= at)).scalars())


@retry_transient
def support_decide(hold_id: int, decision: str, actor: Actor) -> None:
    """Support releases a line, puts it on hold, or lets a hold go ("release"|"hold"|"unhold")."""
    with unit_of_work():
        hold = locked(EscrowHold, hold_id)
        if hold is None:
            raise NotFound("No such escrow hold.")
        target = {"release": H.RELEASED, "hold": H.ON_HOLD, "unhold": H.HELD}.get(decision)
        if target is None:
            raise Conflict("Unknown decision.")
        case_id = _open_case_about(hold) if target != H.ON_HOLD else None
        # A refunded line has no money left to release or hold; an open claim decides its
        # line's money itself (support's decision on the claim moves the hold). A chargeback
        # does not block: its loss catches up with a release (chargeback_money).
        if target in TRANSITIONS[hold.state] and hold.state != H.REFUNDED and case_id is None:
            if target == H.RELEASED:
                _release(hold, "support", actor)
            else:
                hold.status = transition(hold.state, target).value
                audit.record(actor, f"escrow.{decision}", f"escrow:{hold.id}")
            return
        done = {"release": "released", "hold": "put on hold", "unhold": "let go"}[decision]
        refusal = Conflict(f"Case #{case_id} is open about this line; decide it there."
                           if case_id else f"This line is {hold.status.replace('_', ' ')}; "
                           f"it cannot be {done} now.")
        # A refused staff action is recorded too (PCI DSS 10.2.1: outcome of every admin action).
        audit.record(actor, f"escrow.{decision}", f"escrow:{hold.id}", outcome="failure",
                     reason=refusal.message)
    raise refusal


def _open_case_about(hold: EscrowHold) -> int | None:
    """An open buyer's claim on the hold's line, if any (its id)."""
    return db.session.execute(select(DisputeCase.id).where(
        DisputeCase.kind == CaseKind.CLAIM.value,
        DisputeCase.order_line_id == hold.order_line_id,
        DisputeCase.status.in_([s.value for s in CLAIM_OPEN])).limit(1)).scalar_one_or_none()


def _release(hold: EscrowHold, by: str, actor: Actor) -> None:
    item = _mark_released(hold, by, actor)
    ledger.post(item.posting, item.intent, escrow_id=item.escrow_id)


def _mark_released(hold: EscrowHold, by: str, actor: Actor) -> ledger.Intent:
    """Transition and audit one release; the posting to write (alone or in a batch)."""
    # Only what was not refunded leaves escrow, with the platform fee on that remainder; a
    # refund still pending at the PSP is not deducted: if it succeeds later it is clawed back
    # from the seller's balance, if it fails nothing is stranded in escrow.
    hold.status = transition(hold.state, H.RELEASED).value
    hold.released_at, hold.released_by = now(), by
    audit.record(actor, "escrow.released", f"escrow:{hold.id}", by=by,
                 net=hold.remaining - hold.fee_remaining, fee=hold.fee_remaining)
    order_emails.line_delivered(hold, by)
    return ledger.Intent(rules.release(hold.seller_id, hold.currency, hold.remaining,
                                       hold.fee_remaining),
                         f"release:escrow:{hold.id}", escrow_id=hold.id)


# --- composable steps for claims, refunds and chargebacks (the caller's transaction) --------

def freeze(hold: EscrowHold, actor: Actor, reason: str) -> bool:
    """Stop a held line's automatic release while a case is open; False if not held."""
    if hold.state != H.HELD:
        return False
    hold.status = transition(hold.state, H.ON_HOLD).value
    audit.record(actor, "escrow.frozen", f"escrow:{hold.id}", reason=reason)
    return True


def unfreeze(hold: EscrowHold, actor: Actor, reason: str) -> bool:
    """Let a frozen line follow its normal course again; False if it was not frozen."""
    if hold.state != H.ON_HOLD:
        return False
    hold.status = transition(hold.state, H.HELD).value
    audit.record(actor, "escrow.unfrozen", f"escrow:{hold.id}", reason=reason)
    return True


def release_now(hold: EscrowHold, by: str, actor: Actor) -> None:
    """Release a held or frozen line to its seller (a support or case decision)."""
    _release(hold, by, actor)


def take_back(hold: EscrowHold, amount: int, fee_returned: int) -> None:
    """Mark `amount` of a line (and `fee_returned` of its fee) as returned to the buyer; a line
    with nothing left becomes REFUNDED (caller's transaction; the caller posts the ledger)."""
    if not 0 < amount <= hold.remaining or not 0 <= fee_returned <= hold.fee_remaining:
        raise Conflict(f"Line {hold.order_line_id} has {hold.remaining} left, not {amount}.")
    hold.refunded_amount += amount
    hold.fee_returned += fee_returned
    if hold.remaining == 0:
        hold.status = transition(hold.state, H.REFUNDED).value


def give_back(hold: EscrowHold, amount: int, fee_returned: int, actor: Actor,
              reason: str) -> None:
    """Undo `take_back` after a refund failed late: the money is the line's again. A line that
    is still unreleased is frozen so that support decides before anything is released."""
    hold.refunded_amount -= amount
    hold.fee_returned -= fee_returned
    if hold.state == H.REFUNDED:
        target = H.RELEASED if hold.released_at is not None else H.ON_HOLD
        hold.status = transition(hold.state, target).value
        audit.record(actor, "escrow.refund_reversed", f"escrow:{hold.id}", status=hold.status,
                     reason=reason)
    else:
        freeze(hold, actor, reason)
