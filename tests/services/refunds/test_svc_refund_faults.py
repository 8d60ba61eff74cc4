"""Refunds under PSP faults (issue 11 §1.1, §1.4, §1.9): a refund whose key may have executed is
never FAILED without the PSP's word, a mismatch is flagged once, and payouts respect refunds that
are still pending."""
from __future__ import annotations

import time

from sqlalchemy import func, select

from app.domain.ledger import AccountKind
from app.extensions import db, queues
from app.jobs.refunds import settle_refund
from app.models import AuditRecord, EscrowHold, Payment
from app.models.payouts import Payout
from app.models.refunds import Refund
from app.providers.base import ProviderRefund
from app.services.audit import Actor
from app.services.money import bank_accounts, escrow, ledger, payouts
from app.services.refunds import refunds
from tests import flows
from tests.flows import PASSWORD, latest_payment, psp_call, settle

SUPPORT = Actor("support@test.example", "127.0.0.1")


def captured(client, people, stack, psp) -> Payment:
    order_id = flows.paid_order(client, people, stack, psp, {"mug": 2, "candle": 1})
    return latest_payment(order_id)


def fault(stack, kind: str, path: str, count: int = 10) -> None:
    answer = psp_call(stack["psp_url"], "POST", "/v1/test_helpers/faults",
                      {"fault": kind, "count": count, "path": path, "method": "POST"})
    assert answer.status_code == 200


def clear_faults(stack) -> None:
    psp_call(stack["psp_url"], "DELETE", "/v1/test_helpers/faults")


def executions(stack, key: str) -> int:
    return psp_call(stack["psp_url"], "GET", "/v1/_stats").json()["executions"].get(key, 0)


def psp_refunded(stack, payment: Payment) -> int:
    return psp_call(stack["psp_url"], "GET",
                    f"/v1/payment_sessions/{payment.psp_reference}").json()["amount_refunded"]


def fresh(model, ident):
    db.session.commit()
    db.session.expire_all()
    return db.session.get(model, ident)


def open_breaker(provider: str = "sandbox") -> None:
    queues.connection.hset(f"holdfast:breaker:{provider}",
                           mapping={"state": "open", "opened_at": time.time(), "failures": 9})


def close_breaker(provider: str = "sandbox") -> None:
    queues.connection.delete(f"holdfast:breaker:{provider}")


def pending_after_5xx(stack, payment: Payment, **kwargs) -> Refund:
    """A refund the PSP executed while every answer we got was a 500: PENDING, no reference."""
    fault(stack, "5xx_after", "/v1/refunds")
    refund = refunds.request_refund(payment.id, reason="x", actor=SUPPORT, by="support",
                                    **kwargs)
    clear_faults(stack)
    assert refund.status == "pending" and refund.psp_reference is None
    return refund


def test_an_open_breaker_never_fails_a_refund_the_psp_may_have_made(client, people, stack, psp):
    """§1.1: the retry meets CircuitOpen(executed=False); the key's history says "maybe"."""
    payment = captured(client, people, stack, psp)
    refund = pending_after_5xx(stack, payment, amount=2000)
    assert executions(stack, refund.idempotency_key) == 1  # the PSP did refund

    open_breaker()
    try:
        assert settle_refund(refund.id) == "pending"
    finally:
        close_breaker()
    row = fresh(Refund, refund.id)
    assert row.status == "pending" and row.failure_reason is None
    # The amount stays reserved: nobody can promise the buyer the same money again.
    assert refunds.plan(payment.id).total == 6490 - 2000

    assert settle_refund(refund.id) == "succeeded"
    settle(psp)
    assert executions(stack, refund.idempotency_key) == 1
    assert psp_refunded(stack, payment) == fresh(Payment, payment.id).amount_refunded == 2000


def test_a_mismatched_refund_is_flagged_once_and_left_to_support(client, people, stack, psp):
    """§1.9: the sweep stops re-fetching it every 30 s; the payment is flagged once."""
    payment = captured(client, people, stack, psp)
    refund = pending_after_5xx(stack, payment, amount=2000)
    wrong = ProviderRefund("re_wrong", payment.psp_reference, "pending", 1999, "EUR", None)

    for _ in range(3):
        refunds.settle(refund.id, wrong, SUPPORT, "re-fetched from the PSP")

    row = fresh(Refund, refund.id)
    assert row.needs_review and "€19.99" in row.review_reason
    assert refund.id not in refunds.pending_ids(older_than=__import__("datetime").timedelta(0))
    flagged = db.session.execute(select(func.count()).select_from(AuditRecord).where(
        AuditRecord.action == "payment.needs_review")).scalar_one()
    assert flagged == 1
    assert fresh(Payment, payment.id).needs_review


def test_a_payout_leaves_what_a_pending_refund_will_claw_back(client, people, stack, psp):
    """§1.4: a refund of a released line, still pending at the PSP, is not paid out."""
    payment = captured(client, people, stack, psp)
    seller = people["seller"]
    mug = db.session.execute(select(EscrowHold).where(
        EscrowHold.order_id == payment.order_id, EscrowHold.seller_id == seller)).scalar_one()
    escrow.support_decide(mug.id, "release", SUPPORT)
    bank_accounts.register_or_change(seller, PASSWORD, "Northwind", SUPPORT,
                                     iban="DE89370400440532013000")
    available = ledger.balance(AccountKind.SELLER_AVAILABLE, str(seller), "EUR")
    assert available == 4320
    refund = pending_after_5xx(stack, payment, lines={mug.order_line_id: 2000})

    payout_id = payouts.book_payout(seller, "EUR", SUPPORT, manual=True)
    # 20.00 back to the buyer, of which 2.00 is the platform's returned fee: 18.00 clawed back.
    assert db.session.get(Payout, payout_id).amount == 4320 - 1800

    assert settle_refund(refund.id) == "succeeded"
    assert ledger.balance(AccountKind.SELLER_AVAILABLE, str(seller), "EUR") == 0


def test_a_retried_refund_the_psp_refuses_for_good_fails_and_frees_the_amount(
        client, people, stack, psp):
    """Found by the simulation (seed 38): a first attempt lost to a 5xx left the refund
    PENDING; the payment was then disputed, so every retry was refused, and the refund stayed
    PENDING for good. A business refusal of a keyed retry speaks for the key's whole history:
    had an earlier attempt executed, the PSP would have answered with that (Stripe and the
    sandbox replay a key's result; the Braintree client finds the key's refund first)."""
    payment = captured(client, people, stack, psp)
    fault(stack, "5xx_before", "/v1/refunds")
    refund = refunds.request_refund(payment.id, amount=2000, reason="x", actor=SUPPORT,
                                    by="support")
    clear_faults(stack)
    assert refund.status == "pending" and executions(stack, refund.idempotency_key) == 0
    # Meanwhile the whole payment is refunded at the PSP, out of band (its dashboard).
    assert psp_call(stack["psp_url"], "POST", "/v1/refunds",
                    {"payment_session": payment.psp_reference, "amount": 6490},
                    key="dashboard-refund").status_code == 200

    assert settle_refund(refund.id) == "failed"
    row = fresh(Refund, refund.id)
    assert row.failure_reason and executions(stack, refund.idempotency_key) == 1
    assert refunds.plan(payment.id).total == 6490  # the reserved amount is free again


def test_a_retry_refused_while_the_key_is_in_flight_stays_pending(client, people, stack, psp):
    """409 (the key's first request still executing) and 429 say nothing about the outcome."""
    payment = captured(client, people, stack, psp)
    refund = pending_after_5xx(stack, payment, amount=2000)
    fault(stack, "409", "/v1/refunds")
    try:
        assert settle_refund(refund.id) == "pending"
    finally:
        clear_faults(stack)
    assert settle_refund(refund.id) == "succeeded"
    assert executions(stack, refund.idempotency_key) == 1
