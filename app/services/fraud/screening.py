"""Screen every payment attempt: before the PSP call, and again on the PSP's verdict.

The decision, score, reasons and matched rules are stored on the payment and in the audit log.
A block before the PSP fails the payment with a calm, generic message (never which rule fired);
review authorizes without capturing (services.fraud.review); a block on the verdict voids the
authorization. A burst of declines or distinct cards from one buyer, address or device first
meets 3-D Secure and blocks (the rules), then a 429 at the checkout endpoint (`gate`), and
support is alerted once per burst.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass

from sqlalchemy import select

from app import clock
from app.clock import now
from app.database import locked, unit_of_work
from app.domain.fraud import Action, Decision, Stage
from app.domain.payment_states import PaymentStatus
from app.extensions import db
from app.models import Order, Payment, User
from app.models.users import Role
from app.providers.base import ProviderPayment
from app.services import audit, notifications
from app.services.audit import Actor
from app.services.errors import ServiceError
from app.services.fraud import rules_file, signals, velocity

S = PaymentStatus
# What a blocked buyer reads: calm, the same for every rule, and true (nothing was charged).
BLOCKED_MESSAGE = ("We could not accept this payment. Nothing has been charged. If you think "
                   "this is a mistake, please contact our support team.")
# Statuses of review_status that keep the order from being paid until a person (or the
# void on a block) decides.
HOLDS_ORDER = frozenset({"pending", "blocked"})


@dataclass(frozen=True)
class BuyerOrigin:
    """Where a checkout request came from: request.remote_addr (the client's address only with
    the trusted-proxy configuration) and the buyer's device cookie."""

    ip: str | None = None
    device: str | None = None


class FraudBlocked(ServiceError):
    """Screening blocked the payment; the message is the generic one."""

    status = 402

    def __init__(self, payment_id: int):
        super().__init__(BLOCKED_MESSAGE)
        self.payment_id = payment_id


class Throttled(ServiceError):
    """A card-testing burst: the checkout refuses for a while (429 with Retry-After)."""

    status = 429

    def __init__(self, retry_after: int):
        minutes = max(1, math.ceil(retry_after / 60))
        super().__init__("Too many payment attempts. For your security, checkout is paused; "
                         f"please try again in {minutes} minute{'s' if minutes != 1 else ''}.")
        self.retry_after = retry_after


def _identities(buyer_id: int, email: str, origin: BuyerOrigin) -> dict[str, str | None]:
    domain = email.rsplit("@", 1)[1].lower() if "@" in email else None
    return {"buyer": str(buyer_id), "ip": origin.ip, "device": origin.device,
            "email_domain": domain}


def gate(buyer_id: int, email: str, origin: BuyerOrigin, actor: Actor,
         counted=None) -> None:
    """Refuse (429) a buyer, address or device in a card-testing burst, alerting support the
    first time; called by the checkout endpoints before anything else. `counted`: the
    request's rate-limit count (throttle.RateCount), sent in the gate's round trip; when it
    is over its limit the gate decides nothing (the caller answers 429 for the limit)."""
    policy = rules_file.current().card_testing
    who = {k: v for k, v in _identities(buyer_id, email, origin).items()
           if k != "email_domain"}  # one bot must not lock out a whole mail provider
    # One Redis round trip, the rate limit's count included.
    ends, worst = velocity.gate_state(who, policy.window_seconds, ahead=counted)
    if counted is not None and counted.retry_after is not None:
        return
    if ends is not None:
        raise Throttled(max(1, math.ceil(ends - clock.timestamp())))
    if worst < policy.throttle_at:
        return
    first = False
    for kind, value in who.items():
        if value:
            first = velocity.throttle(kind, value, policy.cooldown_seconds) or first
    if first:
        _alert_support(buyer_id, origin, worst, actor)
    raise Throttled(policy.cooldown_seconds)


def _alert_support(buyer_id: int, origin: BuyerOrigin, worst: int, actor: Actor) -> None:
    with unit_of_work():
        audit.record(actor, "fraud.card_testing", f"user:{buyer_id}", outcome="failure",
                     burst=worst, ip=origin.ip)
        staff = db.session.execute(select(User.id).where(
            User.role.in_([Role.SUPPORT.value, Role.ADMIN.value]))).scalars().all()
        for user_id in staff:
            notifications.notify(user_id, "fraud_card_testing",
                                 "Card testing stopped at checkout",
                                 f"Buyer #{buyer_id} hit {worst} declines or distinct cards "
                                 "in a short window; checkout is paused for them, their "
                                 "address and device. See the review queue.")


def before_psp(payment_id: int, actor: Actor) -> Decision:
    """Screen a payment about to go to the PSP in a transaction of its own; a block fails it
    (FraudBlocked). Checkout screens a new payment in the transaction that creates it
    (`screen`); this is for a payment that has no decision yet."""
    with unit_of_work():
        decision = screen(locked(Payment, payment_id), actor)
    refuse_if_blocked(payment_id, actor)
    return decision


def screen(payment: Payment, actor: Actor) -> Decision:
    """Screen a payment about to go to the PSP inside the caller's transaction: checkout's,
    so that the payment row, its idempotency key and its decision commit together (one write
    transaction fewer per checkout). The caller runs `refuse_if_blocked` after its commit."""
    rules = rules_file.current()
    # The attempt joins its windows after they are read, in the same Redis round trip.
    found = signals.gather(payment, rules, Stage.BEFORE_PSP,
                           then_record=("attempts", f"p{payment.id}"))
    decision = rules.evaluate(found, payment.currency, Stage.BEFORE_PSP)
    _store(payment, decision, Stage.BEFORE_PSP, actor)
    return decision


def refuse_if_blocked(payment_id: int, actor: Actor) -> None:
    """A payment whose committed decision before the PSP is a block fails (FraudBlocked)
    before any PSP call; any other decision lets it go on."""
    payment = db.session.get(Payment, payment_id)
    if payment.fraud_decision != Action.BLOCK.value:
        return
    from app.services.payments import payments  # payments imports this module

    buyer = db.session.get(User, db.session.get(Order, payment.order_id).buyer_id)
    # A refused attempt counts like a decline: a bot that keeps going meets the 429.
    velocity.record("declines", signals.velocity_identities(payment, buyer),
                    f"p{payment_id}:blocked")
    payments.apply_report_without_psp(payment_id, S.FAILED, actor, "blocked by screening")
    with unit_of_work():
        locked(Payment, payment_id).failure_message = BLOCKED_MESSAGE
    raise FraudBlocked(payment_id)


def on_report(payment: Payment, report: ProviderPayment, current: PaymentStatus,
              target: PaymentStatus, actor: Actor) -> Action | None:
    """A PSP report is being applied (inside apply_report's transaction): count declines and
    cards, and screen the first authorization on the PSP's verdict. Returns REVIEW or BLOCK
    when the payment must not be captured, else None."""
    if report.card.fingerprint:
        payment.card_fingerprint = report.card.fingerprint
    if report.card.country:
        payment.card_country = report.card.country
    if report.risk_level:
        payment.psp_risk_level = report.risk_level
    if target not in (S.DECLINED, S.AUTHORIZED) or current == S.AUTHORIZED:
        return None
    buyer = db.session.get(User, db.session.get(Order, payment.order_id).buyer_id)
    who = signals.velocity_identities(payment, buyer)
    card = payment.card_fingerprint
    if card:
        velocity.record("cards", who, card)
        velocity.record("attempts", {"card": card}, f"p{payment.id}:{target.value}")
    if target == S.DECLINED:
        velocity.record("declines", who, f"p{payment.id}:{card or report.decline_code}")
        return None
    payment.authorized_at = now()
    rules = rules_file.current()
    decision = rules.evaluate(signals.gather(payment, rules, Stage.PSP_VERDICT),
                              payment.currency, Stage.PSP_VERDICT)
    _store(payment, decision, Stage.PSP_VERDICT, actor)
    if decision.action == Action.REVIEW:
        payment.review_status = "pending"
        return Action.REVIEW
    if decision.action == Action.BLOCK:
        payment.review_status = "blocked"
        payment.failure_message = BLOCKED_MESSAGE
        return Action.BLOCK
    return None


def holds_order(payment: Payment) -> bool:
    """True while screening keeps an authorized payment from paying its order."""
    return payment.review_status in HOLDS_ORDER


def _store(payment: Payment, decision: Decision, stage: Stage, actor: Actor) -> None:
    """On the payment (the latest decision; rule names of both stages kept) and in the audit."""
    payment.fraud_decision, payment.fraud_score = decision.action.value, decision.score
    payment.fraud_reasons = json.dumps(list(decision.reasons))
    earlier = json.loads(payment.fraud_rules) if payment.fraud_rules else []
    payment.fraud_rules = json.dumps(sorted(set(earlier) | set(decision.rules)))
    audit.record(actor, "fraud.screened", f"payment:{payment.id}", stage=stage.value,
                 decision=decision.action.value, score=decision.score,
                 reasons=list(decision.reasons), rules=list(decision.rules))


def reasons(payment: Payment) -> list[str]:
    """The stored reasons of a payment's latest decision."""
    return json.loads(payment.fraud_reasons) if payment.fraud_reasons else []
