"""Refunds settled after the fact: PSP timeouts, the re-fetch job, and webhooks (late failures)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.clock import now
from app.domain.ledger import AccountKind
from app.extensions import db
from app.jobs.refunds import settle_pending, settle_refund
from app.models import DisputeCase, EscrowHold, LedgerTransaction, Payment, WebhookEvent
from app.models.refunds import Refund
from app.providers.base import EventKind, ProviderEvent
from app.services.audit import Actor
from app.services.disputes import case_log
from app.services.money import escrow, ledger
from app.services.refunds import refunds
from tests import flows
from tests.flows import latest_payment, psp_call, settle, slow_proxy

SUPPORT = Actor("support@test.example", "127.0.0.1")


def captured(client, people, stack, psp) -> Payment:
    order_id = flows.paid_order(client, people, stack, psp, {"mug": 2, "candle": 1})
    return latest_payment(order_id)


def fresh(model, ident):
    db.session.commit()
    db.session.expire_all()
    return db.session.get(model, ident)


def executions(stack, key: str) -> int:
    return psp_call(stack["psp_url"], "GET", "/v1/_stats").json()["executions"].get(key, 0)


def intents() -> list[str]:
    return sorted(db.session.execute(select(LedgerTransaction.intent).where(
        LedgerTransaction.event.in_(["refund", "refund_reversed"]))).scalars())


def hold_of(payment: Payment, seller_id: int) -> EscrowHold:
    db.session.expire_all()
    return db.session.execute(select(EscrowHold).where(
        EscrowHold.order_id == payment.order_id, EscrowHold.seller_id == seller_id)).scalar_one()


@pytest.mark.parametrize("reached_psp", [True, False], ids=["answer-lost", "never-arrived"])
def test_a_timed_out_refund_stays_pending_until_the_job_settles_it_once(
        client, people, stack, psp, swap_provider, serve_wsgi, reached_psp):
    payment = captured(client, people, stack, psp)
    proxy = slow_proxy(stack["psp_url"], forward=reached_psp)
    swap_provider(serve_wsgi(proxy), timeout=0.5)
    refund = refunds.request_refund(payment.id, amount=2000, reason="late", actor=SUPPORT,
                                    by="support")
    proxy.settled()
    swap_provider(None)

    assert refund.status == "pending" and refund.psp_reference is None
    assert intents() == []
    # The pending refund reserves its amount: no one can promise the buyer more meanwhile.
    assert refunds.plan(payment.id).total == 6490 - 2000

    assert settle_refund(refund.id) == "succeeded"
    assert settle_refund(refund.id) == "succeeded"  # a rerun changes nothing
    settle(psp)

    refund = fresh(Refund, refund.id)
    assert refund.psp_reference and refund.settled_at
    assert executions(stack, refund.idempotency_key) == 1
    assert intents() == [f"refund:{refund.id}"]
    assert fresh(Payment, payment.id).amount_refunded == 2000


def test_the_sweep_settles_refunds_left_pending(client, people, stack, psp, swap_provider,
                                                serve_wsgi):
    payment = captured(client, people, stack, psp)
    proxy = slow_proxy(stack["psp_url"], forward=True)
    swap_provider(serve_wsgi(proxy), timeout=0.5)
    refund = refunds.request_refund(payment.id, amount=100, reason="x", actor=SUPPORT,
                                    by="support")
    proxy.settled()
    swap_provider(None)
    assert settle_pending() == 0  # too young: its own job is due first
    row = fresh(Refund, refund.id)
    row.created_at = now() - timedelta(minutes=5)
    db.session.commit()

    assert settle_pending() == 1
    assert fresh(Refund, refund.id).status == "succeeded"
    assert settle_pending() == 0


def fail_at_psp(stack, refund: Refund) -> None:
    answer = psp_call(stack["psp_url"], "POST", f"/v1/test_helpers/refunds/{refund.psp_reference}/fail")
    assert answer.status_code == 200 and answer.json()["status"] == "failed"


def test_a_late_failure_reverses_a_held_refund_and_asks_support(client, people, stack, psp):
    payment = captured(client, people, stack, psp)
    mug = hold_of(payment, people["seller"])
    case = DisputeCase(kind="claim", status="open", order_id=payment.order_id,
                       payment_id=payment.id, order_line_id=mug.order_line_id,
                       buyer_id=people["buyer"], seller_id=people["seller"],
                       reason="not_received", currency="EUR", amount=4800)
    db.session.add(case)
    db.session.commit()
    escrow_before = ledger.balance(AccountKind.ESCROW, str(people["seller"]), "EUR")
    refund = refunds.request_refund(payment.id, lines={mug.order_line_id: 4800},
                                    reason="claim accepted", actor=SUPPORT, by="system",
                                    case_id=case.id)
    settle(psp)
    assert hold_of(payment, people["seller"]).status == "refunded"

    fail_at_psp(stack, refund)
    settle(psp)  # refund.failed → re-fetch → reversal

    refund = fresh(Refund, refund.id)
    assert refund.status == "reversed" and refund.reversed_at
    assert intents() == [f"refund:{refund.id}", f"refund_reversed:{refund.id}"]
    mug = hold_of(payment, people["seller"])
    # The money is back in escrow, frozen until support decides.
    assert (mug.status, mug.refunded_amount, mug.fee_returned) == ("on_hold", 0, 0)
    assert ledger.balance(AccountKind.ESCROW, str(people["seller"]), "EUR") == escrow_before
    payment = fresh(Payment, payment.id)
    assert (payment.status, payment.amount_refunded) == ("captured", 0)
    assert payment.needs_review and f"Refund {refund.id}" in payment.review_reason
    bodies = [e.body for e in case_log.events(case.id, include_internal=True)]
    assert any("failed at the payment provider after it had succeeded" in b for b in bodies)
    assert any("Refund of €48.00 sent" in b for b in bodies)
    # Exactly once: the webhook again, or the job, changes nothing.
    db.session.execute(WebhookEvent.__table__.update().values(status="received"))
    db.session.commit()
    settle_refund(refund.id)
    assert intents() == [f"refund:{refund.id}", f"refund_reversed:{refund.id}"]
    again = psp_call(stack["psp_url"], "POST",
                     f"/v1/test_helpers/refunds/{refund.psp_reference}/fail")
    assert again.status_code == 409 and again.json()["error"]["code"] == "refund_unexpected_state"


def test_a_late_failure_after_release_gives_the_seller_back_their_share(client, people, stack,
                                                                        psp):
    payment = captured(client, people, stack, psp)
    candle = hold_of(payment, people["other_seller"])
    escrow.support_decide(candle.id, "release", SUPPORT)
    refund = refunds.request_refund(payment.id, lines={candle.order_line_id: 1690},
                                    reason="x", actor=SUPPORT, by="support")
    assert ledger.balance(AccountKind.SELLER_AVAILABLE, str(people["other_seller"]), "EUR") == 0
    assert fresh(Payment, payment.id).status == "partially_refunded"

    fail_at_psp(stack, refund)
    settle(psp)

    candle = hold_of(payment, people["other_seller"])
    assert (candle.status, candle.refunded_amount) == ("released", 0)
    assert ledger.balance(AccountKind.SELLER_AVAILABLE, str(people["other_seller"]),
                          "EUR") == 1690 - 169
    assert ledger.balance(AccountKind.PLATFORM_FEES, "", "EUR") == 169
    assert fresh(Payment, payment.id).status == "captured"


def test_a_refund_webhook_before_our_answer_is_retried_not_ignored(client, people, stack, psp):
    payment = captured(client, people, stack, psp)
    refund = refunds.request_refund(payment.id, amount=300, reason="x", actor=SUPPORT,
                                    by="support")
    reference = refund.psp_reference
    row = fresh(Refund, refund.id)
    row.psp_reference, row.status = None, "pending"  # as if our request had not returned yet
    db.session.commit()
    with pytest.raises(refunds.RefundNotYetKnown):
        refunds.apply_refund_event(0, "sandbox", ProviderEvent(
            "sandbox", "evt_early", "refund.succeeded", reference, {}, kind=EventKind.REFUND),
            SUPPORT)
    row = fresh(Refund, refund.id)
    row.psp_reference, row.status = reference, "succeeded"
    db.session.commit()


def test_a_late_failure_whose_webhook_was_lost_is_found_by_the_sweep(client, people, stack,
                                                                     psp):
    """Found by the simulation (seed 26): nothing revisited a SUCCEEDED refund, so a lost
    refund.failed left our ledger saying refunded while the PSP had the money back."""
    payment = captured(client, people, stack, psp)
    refund = refunds.request_refund(payment.id, amount=1000, reason="x", actor=SUPPORT,
                                    by="support")
    settle(psp)
    fail_at_psp(stack, refund)  # its webhook never arrives: nobody calls settle(psp)
    row = fresh(Refund, refund.id)
    row.settled_at = now() - timedelta(days=2)
    db.session.commit()

    settle_pending()
    settle_pending()  # checked today: not asked again, nothing reversed twice

    assert fresh(Refund, refund.id).status == "reversed"
    assert intents() == [f"refund:{refund.id}", f"refund_reversed:{refund.id}"]
    assert fresh(Payment, payment.id).amount_refunded == 0
