"""Actions that ask the PSP to do something, then apply its answer.

PSP calls happen outside any database transaction (a slow PSP must not hold our locks), each
with an idempotency key derived from the payment and the action, so a retried job repeats the
same request and the PSP executes it once.
"""
from __future__ import annotations

from app.domain.payment_states import PaymentStatus
from app.extensions import db
from app.models import Payment
from app.providers.base import ProviderError, ProviderPayment
from app.providers.registry import get_provider
from app.services.audit import Actor
from app.services.payments import captures, payments
from app.services.payments.payments import Outcome

S = PaymentStatus
EXPIRABLE = frozenset({S.INITIATED, S.PROCESSING, S.DECLINED, S.REQUIRES_ACTION})


def action_key(payment: Payment, action: str) -> str:
    """The idempotency key of an action on a payment: derived from the payment's own random key,
    so it is stable across retries yet never repeats across databases (ids do: a reset dev
    database, two platforms on one PSP account)."""
    return f"{payment.idempotency_key}:{action}"


def _load(payment_id: int) -> Payment:
    payment = db.session.get(Payment, payment_id)
    if payment is None:
        raise LookupError(f"payment {payment_id} does not exist")
    return payment


def refresh(payment_id: int, actor: Actor, cause: str = "re-fetched from the PSP") -> Outcome:
    """Ask the PSP for the authoritative state and apply it."""
    payment = _load(payment_id)
    provider = get_provider(payment.provider)
    if payment.psp_reference:
        report: ProviderPayment | None = provider.retrieve(payment.psp_reference)
    else:
        # The create call's answer was lost: look the session up by our own reference.
        report = provider.find_by_reference(payment.idempotency_key)
        if report is None:
            # UNKNOWN: the create call's answer was lost. AUTHORIZING without a reference: the
            # Drop-in's sale call died (only the sweep asks, long after it would have answered).
            if payment.state in (S.UNKNOWN, S.AUTHORIZING):
                return payments.apply_report_without_psp(payment_id, S.FAILED, actor,
                                                         "the PSP never created the session")
            return Outcome("unchanged", payment.state, "no session at the PSP")
        payments.attach_session(payment_id, report)
    return payments.apply_report(payment_id, report, cause, actor)


def capture(payment_id: int, actor: Actor) -> Outcome:
    """Capture an authorized payment: in full, or under the per-shipment policy its lines
    as they ship (digital ones at once); a no-op once it is captured."""
    payment = _load(payment_id)
    if payment.state != S.AUTHORIZED or payment.give_back:
        return Outcome("unchanged", payment.state, "not awaiting capture")
    if captures.plan(payment_id, actor):
        result = captures.capture_due(payment_id, actor)
        return Outcome(result.result, db.session.get(Payment, payment_id).state,
                       "captured per shipment")
    provider = get_provider(payment.provider)
    try:
        report = provider.capture(payment.psp_reference, payment.amount_authorized,
                                  idempotency_key=action_key(payment, "capture"))
    except ProviderError as exc:
        if exc.retryable:
            raise  # the job retries with the same key
        # e.g. already captured or voided at the PSP: believe the PSP's own record.
        outcome = refresh(payment_id, actor, cause=f"capture refused: {exc.code}")
        if outcome.status == S.AUTHORIZED:
            # Still uncaptured after a refusal that no retry will cure: a person must look.
            payments.flag_for_review(payment_id, f"the PSP refused the capture: {exc.code}",
                                     actor)
            return Outcome("needs_review", outcome.status, str(exc))
        return outcome
    return payments.apply_report(payment_id, report, "captured by the platform", actor)


def expire(payment_id: int, actor: Actor) -> Outcome:
    """End a session the buyer abandoned and release its stock; paid sessions are left alone."""
    payment = _load(payment_id)
    if payment.state not in EXPIRABLE:
        return Outcome("unchanged", payment.state, "not expirable")
    if payment.psp_reference is None:
        return payments.apply_report_without_psp(payment_id, S.EXPIRED, actor,
                                                 "never reached the PSP")
    provider = get_provider(payment.provider)
    try:
        report = provider.cancel(payment.psp_reference, idempotency_key=action_key(payment, "expire"))
    except ProviderError as exc:
        if exc.retryable:
            raise
        # The buyer may have paid in the meantime: the PSP's state wins.
        return refresh(payment_id, actor, cause=f"expiry refused: {exc.code}")
    override = S.EXPIRED if report.status == S.CANCELLED else None
    return payments.apply_report(payment_id, report, "session expired", actor, override=override)


def cancel_for_replacement(payment_id: int, actor: Actor) -> Outcome:
    """Cancel an unpaid session because the buyer chose another way to pay."""
    payment = _load(payment_id)
    if payment.psp_reference is None:
        return payments.apply_report_without_psp(payment_id, S.CANCELLED, actor,
                                                 "replaced before reaching the PSP")
    provider = get_provider(payment.provider)
    try:
        report = provider.cancel(payment.psp_reference, idempotency_key=action_key(payment, "replace"))
    except ProviderError as exc:
        if exc.retryable:
            raise
        return refresh(payment_id, actor, cause=f"cancel refused: {exc.code}")
    return payments.apply_report(payment_id, report, "replaced by another payment", actor)
