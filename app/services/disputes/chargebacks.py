"""PSP chargebacks: a payment the buyer's bank disputed, its case, evidence and money.

The PSP's dispute is the truth. A webhook is only a reason to re-fetch it and bring our case
forward to what the PSP says now, so duplicated events and events arriving out of order
(`dispute.closed` before `dispute.created`) end the same. The money follows docs/disputes.md:
opening reserves the amount and the PSP's fee, freezes lines still in escrow and moves released
lines' net shares to the seller's reserved balance; won gives all of it back; lost books the
amount to the liable party and the PSP's fee to the platform.
"""
from __future__ import annotations

from functools import partial

from sqlalchemy import select

from app.clock import now
from app.database import locked, unit_of_work
from app.domain.dispute_states import (
    CHARGEBACK_OPEN,
    CaseKind,
    ChargebackStatus,
    Resolution,
    chargeback_transition,
)
from app.domain.payment_states import PaymentStatus, can_transition
from app.extensions import db
from app.models import DisputeCase, Order, OrderLine, Payment, PaymentStatusChange
from app.models.users import STAFF_ROLES, Role, User
from app.models.webhooks import InboxStatus
from app.providers.base import ProviderDispute, ProviderError, ProviderEvent
from app.providers.registry import get_provider
from app.services import audit, inbox, notifications
from app.services.audit import Actor
from app.services.disputes import case_log
from app.services.disputes import chargeback_money as money
from app.services.errors import Conflict, NotFound, PaymentUnavailable, ServiceError
from app.services.fraud import review as fraud_review
from app.services.money.clawbacks import after_commit
from app.services.money.ledger_checks import CAPTURED_OR_LATER
from app.services.payments import payments

B = ChargebackStatus
LIABLE = ("seller", "platform")
# Stripe's evidence text fields, which the sandbox accepts too (docs/sandbox-psp.md).
EVIDENCE_FIELDS = frozenset({
    "access_activity_log", "billing_address", "cancellation_policy_disclosure",
    "cancellation_rebuttal", "customer_email_address", "customer_name", "customer_purchase_ip",
    "duplicate_charge_explanation", "duplicate_charge_id", "product_description",
    "refund_policy_disclosure", "refund_refusal_explanation", "service_date", "shipping_address",
    "shipping_carrier", "shipping_date", "shipping_tracking_number", "uncategorized_text"})
MAX_FIELD = 20_000


# --- webhooks ----------------------------------------------------------------------------

def apply_dispute_event(inbox_id: int, provider_name: str, event: ProviderEvent,
                        actor: Actor) -> None:
    """Re-fetch the PSP's dispute and bring its chargeback case forward (webhook handler)."""
    event_type, object_id = event.type, event.object_id
    provider = get_provider(provider_name)
    report = provider.retrieve_dispute(object_id)  # a ProviderError fails the job: RQ retries
    payment = db.session.execute(select(Payment).where(
        Payment.provider == provider_name, Payment.psp_reference == report.payment_reference)
    ).scalar_one_or_none()
    if payment is None:
        with unit_of_work():
            inbox.mark(inbox_id, InboxStatus.IGNORED,
                                f"no payment for dispute {report.reference}")
        return
    if payment.status not in CAPTURED_OR_LATER:
        # The dispute's webhook beat our capture's: bring the payment forward first, so the
        # money the dispute takes is in escrow before it is reserved.
        payments.apply_report(payment.id, provider.retrieve(payment.psp_reference),
                              f"{event_type} {report.reference}", actor)
    with unit_of_work():
        payment = locked(Payment, payment.id)
        if payment.status not in CAPTURED_OR_LATER:
            raise Conflict(f"payment {payment.id} is {payment.status}: not captured yet")
        case = db.session.execute(select(DisputeCase).where(
            DisputeCase.provider == provider_name,
            DisputeCase.psp_reference == report.reference)).scalar_one_or_none()
        seen = partial(_log_psp_event, event_type=event_type, report=report, inbox_id=inbox_id)
        if case is None:
            case = _open(payment, report, actor, seen)
        else:
            seen(locked(DisputeCase, case.id))
        _follow(case, payment, report, actor)
        inbox.mark(inbox_id, InboxStatus.PROCESSED,
                            f"chargeback case {case.id}: {case.status}")
        lost = case.status == ChargebackStatus.LOST.value and case.liable != "platform"
        lost_intent = money.intent(case, "lost")
    if lost:
        after_commit(lost_intent)
    return


def _log_psp_event(case: DisputeCase, *, event_type: str, report: ProviderDispute,
                   inbox_id: int) -> None:
    case_log.log(case, "psp_event", "psp", f"{event_type}: the PSP reports {report.raw_status}",
                 event=event_type, status=report.raw_status, inbox=inbox_id)


def _open(payment: Payment, report: ProviderDispute, actor: Actor, seen) -> DisputeCase:
    """Create the case and reserve its money (caller's transaction); `seen` logs the event."""
    order = payment.order
    sellers = sorted(order.seller_ids)
    shares = money.allocate(payment, report.amount)
    case = DisputeCase(kind=CaseKind.CHARGEBACK.value, status=B.NEEDS_RESPONSE.value,
                       order_id=order.id, payment_id=payment.id, buyer_id=order.buyer_id,
                       seller_id=sellers[0] if len(sellers) == 1 else None,
                       reason=report.reason[:40], currency=report.currency, amount=report.amount,
                       fee_amount=report.fee_amount, due_by=report.due_by,
                       provider=payment.provider, psp_reference=report.reference)
    db.session.add(case)
    db.session.flush()
    seen(case)
    case_log.log(case, "status", "psp", f"Chargeback opened by the buyer's bank ({case.reason}).",
                 status=case.status)
    frozen = money.reserve(case, shares, actor)
    if can_transition(payment.state, PaymentStatus.DISPUTED):
        payments.record_change(payment, PaymentStatus.DISPUTED, f"dispute {case.psp_reference}",
                               actor)
    else:
        payment.needs_review = True
        payment.review_reason = f"chargeback {case.psp_reference} on a {payment.status} payment"
    audit.record(actor, "chargeback.opened", f"case:{case.id}", payment=payment.id,
                 amount=case.amount, fee=case.fee_amount, reason=case.reason,
                 due_by=case.due_by, frozen=frozen)
    _tell_parties(case, "chargeback_opened", f"Chargeback on order #{order.id}",
                  f"The buyer's bank disputed the payment for order #{order.id} ({case.reason}). "
                  f"Evidence is due by {_when(case.due_by)}; the money is held meanwhile.")
    return case


def _follow(case: DisputeCase, payment: Payment, report: ProviderDispute, actor: Actor) -> None:
    """Move the case to the PSP's current status; stale and repeated reports change nothing."""
    current = case.state
    if current in CHARGEBACK_OPEN and payment.state != PaymentStatus.DISPUTED and \
            can_transition(payment.state, PaymentStatus.DISPUTED):
        # Belt and braces: apply_report treats payment reports on a disputed payment as stale,
        # but a payment moved out by any other path while the dispute is open is put back.
        payments.record_change(payment, PaymentStatus.DISPUTED,
                               f"dispute {case.psp_reference} still open", actor)
    if current not in CHARGEBACK_OPEN or report.status == current.value:
        return
    if report.status not in {s.value for s in ChargebackStatus}:
        payment.needs_review = True
        payment.review_reason = (f"chargeback {case.psp_reference}: unknown PSP status "
                                 f"{report.raw_status!r}")
        audit.record(actor, "chargeback.needs_review", f"case:{case.id}", raw=report.raw_status)
        return
    target = ChargebackStatus(report.status)
    if target == B.NEEDS_RESPONSE or (target == B.UNDER_REVIEW and current != B.NEEDS_RESPONSE):
        return  # behind what we know already
    case.status = chargeback_transition(current, target).value
    case_log.log(case, "status", "psp", f"The PSP moved the chargeback to "
                 f"{case.status.replace('_', ' ')}.", before=current.value, after=case.status)
    audit.record(actor, "chargeback.status_changed", f"case:{case.id}", before=current.value,
                 after=case.status)
    if target == B.WON:
        money.give_back(case, report, actor)
        case.resolution, case.resolved_at = Resolution.WON.value, now()
        _restore_payment(payment, case, actor)
        audit.record(actor, "chargeback.won", f"case:{case.id}", amount=case.amount,
                     fee_returned=report.fee_returned_if_won)
        _tell_parties(case, "chargeback_won", f"Chargeback won on order #{case.order_id}",
                      "The bank decided for the seller: the held money follows its normal "
                      "course.")
    elif target == B.LOST:
        liable = money.book_loss(case, actor)
        case.liable, case.resolution, case.resolved_at = liable, Resolution.LOST.value, now()
        if payment.state != PaymentStatus.REFUNDED and \
                can_transition(payment.state, PaymentStatus.REFUNDED):
            payments.record_change(payment, PaymentStatus.REFUNDED,
                                   f"dispute {case.psp_reference} lost", actor)
        audit.record(actor, "chargeback.lost", f"case:{case.id}", liable=liable,
                     amount=case.amount, fee=case.fee_amount)
        # The card, device and email behind a lost chargeback are watched from now on.
        fraud_review.watch(payment.id, f"chargeback {case.psp_reference} lost", actor,
                           in_transaction=True)
        who = ("the disputed amount, net of the platform's fee, is taken from the seller's share"
               if liable == "seller" else "the platform bears the loss")
        _tell_parties(case, "chargeback_lost", f"Chargeback lost on order #{case.order_id}",
                      f"The bank decided for the buyer: {who}.")


def _restore_payment(payment: Payment, case: DisputeCase, actor: Actor) -> None:
    """Back to the status the payment had before the dispute."""
    before = db.session.execute(select(PaymentStatusChange.from_status).where(
        PaymentStatusChange.payment_id == payment.id,
        PaymentStatusChange.to_status == PaymentStatus.DISPUTED.value)
        .order_by(PaymentStatusChange.id.desc()).limit(1)).scalar_one_or_none()
    target = PaymentStatus(before) if before else PaymentStatus.CAPTURED
    if payment.state == PaymentStatus.DISPUTED and can_transition(payment.state, target):
        payments.record_change(payment, target, f"dispute {case.psp_reference} won", actor)


def _when(moment) -> str:
    return moment.strftime("%d %b %Y %H:%M UTC") if moment else "no deadline"


def _tell_parties(case: DisputeCase, kind: str, subject: str, body: str) -> None:
    """The buyer, every seller on the order, and support (the assignee, else every agent)."""
    people = {case.buyer_id, *db.session.get(Order, case.order_id).seller_ids}
    if case.assigned_to:
        people.add(case.assigned_to)
    else:
        people |= set(db.session.execute(select(User.id).where(
            User.role == Role.SUPPORT.value, User.is_active_account.is_(True))).scalars())
    for user_id in sorted(people):
        notifications.notify(user_id, kind, subject, body)
    case_log.log(case, "notification", "system", subject, recipients=sorted(people))


# --- people acting on a chargeback --------------------------------------------------------

def _acting_user(case: DisputeCase, actor: Actor) -> User:
    """Support, or a seller with a line on the disputed order; anyone else: NotFound."""
    user = db.session.get(User, actor.user_id) if actor.user_id else None
    if user is None or not (user.has_role(*STAFF_ROLES) or (
            user.role == Role.SELLER.value and user.id in case.order.seller_ids)):
        raise NotFound("No such chargeback.")
    return user


def submit_evidence(case_id: int, fields: dict[str, str], actor: Actor,
                    submit: bool = True) -> DisputeCase:
    """Send evidence text to the PSP before the due date (support or the order's seller)."""
    evidence = {k: v.strip() for k, v in fields.items() if v and v.strip()}
    if not evidence:
        raise ServiceError("Write at least one piece of evidence.")
    unknown = sorted(set(evidence) - EVIDENCE_FIELDS)
    if unknown or any(len(v) > MAX_FIELD for v in evidence.values()):
        raise ServiceError("Evidence fields must be known ones of at most 20 000 characters.")
    with unit_of_work():
        case = db.session.get(DisputeCase, case_id)
        if case is None or case.kind != CaseKind.CHARGEBACK.value:
            raise NotFound("No such chargeback.")
        user = _acting_user(case, actor)
        refusal = _evidence_refusal(case)
        reference, provider_name = case.psp_reference, case.provider
    if refusal:
        audit.record_access(actor, "chargeback.evidence_submitted", f"case:{case_id}",
                            outcome="failure", reason=refusal)
        raise Conflict(refusal)
    try:
        report = get_provider(provider_name).submit_dispute_evidence(reference, evidence, submit)
    except ProviderError as exc:
        with unit_of_work():
            audit.record(actor, "chargeback.evidence_submitted", f"case:{case_id}",
                         outcome="failure", code=exc.code, fields=sorted(evidence))
        if exc.code == "dispute_past_due":
            raise Conflict("The deadline for evidence has passed: the PSP refused it.") from exc
        if exc.code == "dispute_unexpected_state":
            raise Conflict("The PSP no longer accepts evidence for this chargeback.") from exc
        if exc.executed is False and not exc.retryable:
            # Refused for good (e.g. closed at the PSP before its webhook reached us): the
            # same request again cannot help, so do not tell the person to try again.
            raise Conflict("The PSP refused this evidence; nothing was sent. The chargeback "
                           "may have been closed at the PSP: its status updates here "
                           "when the PSP reports it.") from exc
        raise PaymentUnavailable("The PSP could not take the evidence now; "
                                 "nothing was sent. Try again.") from exc
    with unit_of_work():
        case = locked(DisputeCase, case_id)
        payment = locked(Payment, case.payment_id)
        role = "support" if user.has_role(*STAFF_ROLES) else "seller"
        verb = "Submitted" if submit else "Staged"
        case_log.log(case, "message", role, f"{verb} evidence to the PSP: "
                     + "; ".join(f"{k.replace('_', ' ')}: {v}" for k, v in
                                 sorted(evidence.items())),
                     actor_id=user.id, fields=sorted(evidence), submitted=submit)
        audit.record(actor, "chargeback.evidence_submitted", f"case:{case.id}",
                     fields=sorted(evidence), submitted=submit)
        _follow(case, payment, report, actor)
    return case


def _evidence_refusal(case: DisputeCase) -> str | None:
    """Why evidence cannot be sent now (the PSP takes it only before due_by), or None."""
    if case.state != B.NEEDS_RESPONSE:
        return f"This chargeback is {case.status}: evidence can no longer be sent."
    if case.due_by is not None and now() >= case.due_by:
        return (f"The deadline for evidence passed on {_when(case.due_by)}: "
                "the PSP no longer accepts it.")
    return None


def mark_liable(case_id: int, liable: str, reason: str, actor: Actor) -> DisputeCase:
    """Support says who bears the chargeback if it is lost (before it closes)."""
    if liable not in LIABLE or not reason.strip():
        raise ServiceError("Say who is liable and why.")
    with unit_of_work():
        case = locked(DisputeCase, case_id)
        if case is None or case.kind != CaseKind.CHARGEBACK.value:
            raise NotFound("No such chargeback.")
        user = _acting_user(case, actor)
        if not user.has_role(*STAFF_ROLES):
            raise NotFound("No such chargeback.")
        if case.state not in CHARGEBACK_OPEN:
            raise Conflict(f"This chargeback is already {case.status}.")
        before, case.liable = case.liable or "seller", liable
        case_log.log(case, "decision", "support", f"If lost, the {liable} bears it: "
                     f"{reason.strip()}", actor_id=user.id, before=before, liable=liable,
                     internal=True)
        audit.record(actor, "chargeback.liability_set", f"case:{case.id}", before=before,
                     liable=liable, reason=reason.strip()[:500])
    return case


# --- the seller's view -------------------------------------------------------------------

def for_seller(seller_id: int) -> list[DisputeCase]:
    """Chargebacks on orders with a line of this seller, nearest deadline first."""
    orders = select(OrderLine.order_id).where(OrderLine.seller_id == seller_id)
    return list(db.session.execute(select(DisputeCase).where(
        DisputeCase.kind == CaseKind.CHARGEBACK.value, DisputeCase.order_id.in_(orders))
        .order_by(DisputeCase.due_by.is_(None), DisputeCase.due_by, DisputeCase.id)).scalars())


def seller_case(case_id: int, seller_id: int) -> DisputeCase:
    """One chargeback on an order with this seller's lines, or NotFound."""
    case = db.session.get(DisputeCase, case_id)
    if case is None or case.kind != CaseKind.CHARGEBACK.value or \
            seller_id not in db.session.get(Order, case.order_id).seller_ids:
        raise NotFound("No such chargeback.")
    return case
