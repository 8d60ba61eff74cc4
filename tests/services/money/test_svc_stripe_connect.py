"""Stripe Connect in the platform: a seller's connected account, payouts as transfers to it,
and clawbacks after a payout reversed from the transfer — each exactly once."""
from __future__ import annotations

import json
import time
import uuid

import pytest
from sqlalchemy import select

from app.domain.ledger import AccountKind
from app.extensions import db
from app.jobs.connect import reverse_clawback, sweep_clawbacks
from app.jobs.payouts import run_payouts, submit_payout
from app.models import (
    AuditRecord,
    EscrowHold,
    LedgerTransaction,
    Payout,
    ProviderAccount,
    WebhookEvent,
)
from app.models.transfer_reversals import TransferReversal
from app.providers.stripe import connect
from app.services import webhooks
from app.services.audit import Actor
from app.services.errors import Conflict, ServiceError
from app.services.money import clawbacks, connected_accounts, escrow, ledger, payouts
from app.services.money.clawbacks import enqueue_for_posting
from app.services.refunds import refunds
from tests import flows
from tests.fakes.stripe import sign
from tests.fakes.stripe.wiring import stripe_on
from tests.flows import PASSWORD, latest_payment, run_jobs, settle

API_KEY, WEBHOOK_SECRET = "sk_test_connect_suite", "whsec_connect_suite"
SUPPORT = Actor("support@test.example", "127.0.0.1")


def seller_actor(people, who: str = "seller") -> Actor:
    return Actor(f"{who}@test.example", "127.0.0.1", user_id=people[who])


@pytest.fixture
def stripe_fake(app):
    """A fake Stripe the platform is configured with (payments themselves stay on the sandbox)."""
    with stripe_on(app, API_KEY, WEBHOOK_SECRET) as fake:
        yield fake


def open_account(email: str = "seller@test.example") -> str:
    """A connected account at the fake, as the seller would open one with Stripe."""
    return connect.create_account(connected_accounts.stripe_adapter(), email, "DE",
                                  f"acct-{uuid.uuid4().hex}")


def connected_seller_with_sale(client, people, stack, psp) -> tuple[str, int]:
    """The seller's connected account, and a paid order whose 2 mugs (€48.00, fee €4.80) are
    released: €43.20 available."""
    account = open_account()
    connected_accounts.register_stripe_account(people["seller"], account, PASSWORD,
                                               seller_actor(people))
    order_id = flows.paid_order(client, people, stack, psp, {"mug": 2})
    hold = db.session.execute(select(EscrowHold).where(EscrowHold.order_id == order_id)).scalar_one()
    escrow.support_decide(hold.id, "release", SUPPORT)
    return account, order_id


def available(people) -> int:
    return ledger.balance(AccountKind.SELLER_AVAILABLE, str(people["seller"]), "EUR")


def fresh(model, row_id):
    db.session.expire_all()
    return db.session.get(model, row_id)


def intents(prefix: str) -> list[str]:
    return list(db.session.execute(select(LedgerTransaction.intent).where(
        LedgerTransaction.intent.like(f"{prefix}%"))).scalars())


# --- registering the connected account ------------------------------------------------------

def test_a_seller_registers_an_account_that_stripe_knows(app, people, stripe_fake):
    actor = seller_actor(people)
    with pytest.raises(ServiceError, match="looks like acct_"):
        connected_accounts.register_stripe_account(people["seller"], "ba_123", PASSWORD, actor)
    assert stripe_fake.calls == []  # the shape is checked before Stripe is asked
    with pytest.raises(ServiceError, match="Stripe has no account acct_1234567890abcd"):
        connected_accounts.register_stripe_account(people["seller"], "acct_1234567890abcd",
                                                   PASSWORD, actor)
    account = open_account()
    with pytest.raises(ServiceError, match="password is not correct"):
        connected_accounts.register_stripe_account(people["seller"], account, "nope", actor)
    assert connected_accounts.stripe_account(people["seller"]) is None

    connected_accounts.register_stripe_account(people["seller"], f"  {account} ", PASSWORD, actor)
    row = connected_accounts.stripe_account(people["seller"])
    assert (row.account_ref, row.provider, row.payouts_enabled) == (account, "stripe", True)
    records = db.session.execute(select(AuditRecord).where(
        AuditRecord.action == "provider_account.changed").order_by(AuditRecord.id)).scalars().all()
    assert [r.outcome for r in records] == ["failure", "success"]
    assert json.loads(records[-1].details)["account"] == account

    # Another seller can never take it over (and is not told whose it is).
    with pytest.raises(ServiceError, match="cannot be used here") as refused:
        connected_accounts.register_stripe_account(people["other_seller"], account, PASSWORD,
                                                   seller_actor(people, "other_seller"))
    assert "seller@" not in refused.value.message
    assert connected_accounts.stripe_account(people["other_seller"]) is None

    # Changing it keeps one row per seller and provider.
    second = open_account()
    connected_accounts.register_stripe_account(people["seller"], second, PASSWORD, actor)
    db.session.expire_all()
    assert [r.account_ref for r in db.session.execute(select(ProviderAccount)).scalars()] == [
        second]


def test_without_stripe_no_account_can_be_registered(app, people):
    with pytest.raises(Conflict, match="Stripe is not in use"):
        connected_accounts.register_stripe_account(people["seller"], "acct_1234567890abcd",
                                                   PASSWORD, seller_actor(people))


# --- payouts as transfers ---------------------------------------------------------------------

def test_a_connected_seller_is_paid_by_one_transfer_posted_once(client, people, stack, psp,
                                                                stripe_fake):
    account, _ = connected_seller_with_sale(client, people, stack, psp)
    (payout_id,) = run_payouts()
    settle(psp)  # the submit job
    payout = fresh(Payout, payout_id)
    assert (payout.provider, payout.status, payout.amount) == ("stripe", "paid", 4320)
    assert payout.destination_last4 == account[-4:]
    (transfer,) = stripe_fake.of_kind("transfer")
    assert transfer["id"] == payout.psp_reference
    assert (transfer["amount"], transfer["currency"], transfer["destination"]) == (
        4320, "eur", account)
    assert transfer["transfer_group"] == payout.idempotency_key
    assert transfer["metadata"] == {"holdfast_payout": payout.idempotency_key}

    assert submit_payout(payout_id) == "paid"  # the job running twice changes nothing
    assert len(stripe_fake.of_kind("transfer")) == 1
    assert sorted(intents("payout:")) == [f"payout:paid:{payout_id}", f"payout:sent:{payout_id}"]
    assert available(people) == 0
    assert ledger.balance(AccountKind.SELLER_IN_TRANSIT, str(people["seller"]), "EUR") == 0
    # The buyer paid through the sandbox: the treasury topped Stripe up first, so Stripe's
    # clearing never went below zero and the sandbox's paid for it (tests for payout_funding).
    assert ledger.balance(AccountKind.PSP_CLEARING, "stripe", "EUR") == 0
    (topup,) = stripe_fake.of_kind("topup")
    assert (topup["amount"], topup["currency"]) == (4320, "eur")
    assert len(intents("treasury_funding:stripe:")) == 1
    assert len(intents("treasury_sweep:sandbox:")) == 1
    assert run_payouts() == []


def test_a_transfer_webhook_that_beats_the_submit_job_settles_the_payout_once(
        client, people, stack, psp, stripe_fake):
    account, _ = connected_seller_with_sale(client, people, stack, psp)
    payout_id = payouts.book_payout(people["seller"], "EUR", SUPPORT, manual=True)
    payout = fresh(Payout, payout_id)
    # Stripe executed the transfer but our submit job has not stored its id yet.
    connected_accounts.stripe_adapter().create_payout(
        payout.amount, "EUR", {"stripe_account": account,
                               "transfer_group": payout.idempotency_key}, "",
        payout.idempotency_key)
    event = stripe_fake.events_of("transfer.created")[0]
    raw = json.dumps(event).encode()
    receipt = webhooks.receive("stripe", raw, {
        "Stripe-Signature": sign(WEBHOOK_SECRET, raw, int(time.time()))})
    assert receipt.status == 200
    inbox = db.session.execute(select(WebhookEvent).where(
        WebhookEvent.provider == "stripe")).scalar_one()
    webhooks.process(inbox.id)
    assert fresh(WebhookEvent, inbox.id).status == "processed"
    assert fresh(Payout, payout_id).status == "paid"

    run_jobs()
    assert submit_payout(payout_id) == "paid"
    assert len(stripe_fake.of_kind("transfer")) == 1
    assert len(intents(f"payout:paid:{payout_id}")) == 1


def test_a_refused_transfer_fails_the_payout_and_returns_the_money(client, people, stack, psp,
                                                                   stripe_fake):
    account, _ = connected_seller_with_sale(client, people, stack, psp)
    # The seller's Stripe account lost the transfers capability after they registered it.
    stripe_fake.objects[account]["capabilities"]["transfers"] = "inactive"
    (payout_id,) = run_payouts()
    settle(psp)
    payout = fresh(Payout, payout_id)
    assert (payout.provider, payout.status) == ("stripe", "failed")
    assert sorted(intents("payout:")) == [f"payout:failed:{payout_id}",
                                          f"payout:sent:{payout_id}"]
    assert stripe_fake.of_kind("transfer") == []
    assert available(people) == 4320


def test_a_seller_whose_account_takes_no_transfers_is_paid_to_the_bank(client, people, stack,
                                                                       psp, stripe_fake):
    from app.services.money import bank_accounts

    connected_seller_with_sale(client, people, stack, psp)
    row = connected_accounts.stripe_account(people["seller"])
    row.payouts_enabled = False
    db.session.commit()
    assert payouts.destination_for(people["seller"], "EUR") is None  # no bank account either
    bank_accounts.register_or_change(people["seller"], PASSWORD, "Northwind", SUPPORT,
                                     iban="DE89370400440532013000")
    route = payouts.destination_for(people["seller"], "EUR")
    assert (route.provider, route.last4) == ("sandbox", "3000")


# --- clawbacks by transfer reversal ---------------------------------------------------------

def paid_out_then_refunded(client, people, stack, psp, amount: int) -> tuple[int, int]:
    """A connected seller paid €43.20 by transfer, then support refunds `amount` of the mugs:
    (the refund's clawback posting id, the payout id)."""
    _, order_id = connected_seller_with_sale(client, people, stack, psp)
    (payout_id,) = run_payouts()
    settle(psp)
    payment = latest_payment(order_id)
    hold = db.session.execute(select(EscrowHold).where(EscrowHold.order_id == order_id)).scalar_one()
    refund = refunds.request_refund(payment.id, lines={hold.order_line_id: amount},
                                    reason="arrived broken", actor=SUPPORT, by="support")
    txn_id = db.session.execute(select(LedgerTransaction.id).where(
        LedgerTransaction.intent == f"refund:{refund.id}")).scalar_one()
    return txn_id, payout_id


def test_a_refund_after_payout_reverses_the_shortfall_from_the_transfer_once(
        client, people, stack, psp, stripe_fake):
    # €24.00 back to the buyer: the seller's part (€21.60) leaves a €0.00 balance at −21.60.
    txn_id, payout_id = paid_out_then_refunded(client, people, stack, psp, 2400)
    assert available(people) == -2160
    assert clawbacks.due() == [(txn_id, people["seller"])]

    assert sweep_clawbacks() == 1  # the safety net queues it …
    run_jobs()                     # … and the job reverses it
    transfer = fresh(Payout, payout_id).psp_reference
    (reversal,) = stripe_fake.of_kind("transfer_reversal")
    assert (reversal["transfer"], reversal["amount"]) == (transfer, 2160)
    assert stripe_fake.objects[transfer]["amount_reversed"] == 2160
    (row,) = db.session.execute(select(TransferReversal)).scalars().all()
    assert (row.status, row.amount, row.psp_reference, row.source_transaction_id) == (
        "succeeded", 2160, reversal["id"], txn_id)
    assert intents("transfer_reversed:") == [f"transfer_reversed:{row.id}"]
    assert available(people) == 0
    # The payout was funded (a top-up of 4320), paid (−4320), and half reversed back.
    assert ledger.balance(AccountKind.PSP_CLEARING, "stripe", "EUR") == 2160

    # The job running again, or the sweep, reverses nothing more.
    assert reverse_clawback(txn_id, people["seller"]) == [row.id]
    assert clawbacks.due() == [] and sweep_clawbacks() == 0
    assert len(stripe_fake.of_kind("transfer_reversal")) == 1
    assert len(intents("transfer_reversed:")) == 1


def test_a_reversal_whose_answer_was_lost_is_booked_once_on_the_next_run(
        client, people, stack, psp, stripe_fake):
    txn_id, _ = paid_out_then_refunded(client, people, stack, psp, 4800)
    assert available(people) == -4320
    stripe_fake.fail_next("5xx_after")  # Stripe reverses, then the answer is a 500
    from app.providers.base import ProviderError

    with pytest.raises(ProviderError):
        reverse_clawback(txn_id, people["seller"])
    (row,) = db.session.execute(select(TransferReversal)).scalars().all()
    assert (row.status, row.amount) == ("pending", 4320)
    assert available(people) == -4320 and intents("transfer_reversed:") == []

    # The trigger the refund fires after it commits, then the job once more by hand.
    assert enqueue_for_posting(intents("refund:")[0]) == 1
    run_jobs()
    assert reverse_clawback(txn_id, people["seller"]) == [row.id]
    assert len(stripe_fake.of_kind("transfer_reversal")) == 1
    assert fresh(TransferReversal, row.id).status == "succeeded"
    assert available(people) == 0


def test_a_refund_within_the_balance_or_of_an_unconnected_seller_reverses_nothing(
        client, people, stack, psp, stripe_fake):
    _, order_id = connected_seller_with_sale(client, people, stack, psp)
    payment = latest_payment(order_id)
    hold = db.session.execute(select(EscrowHold).where(EscrowHold.order_id == order_id)).scalar_one()
    refund = refunds.request_refund(payment.id, lines={hold.order_line_id: 1000},
                                    reason="scratched", actor=SUPPORT, by="support")
    txn_id = db.session.execute(select(LedgerTransaction.id).where(
        LedgerTransaction.intent == f"refund:{refund.id}")).scalar_one()
    assert available(people) > 0  # nothing was paid out yet: the balance covers it
    assert enqueue_for_posting(f"refund:{refund.id}") == 1  # the seller is connected …
    run_jobs()                                               # … but nothing is short
    assert reverse_clawback(txn_id, people["seller"]) == []
    assert clawbacks.due() == []
    assert reverse_clawback(txn_id, people["other_seller"]) == []  # not their clawback
    assert stripe_fake.of_kind("transfer_reversal") == []
    assert db.session.execute(select(TransferReversal)).first() is None


def test_a_lost_chargeback_after_payout_is_reversed_from_the_transfer(app, people, stack, psp,
                                                                      stripe_fake):
    from sandbox_psp.webhooks import deliver_due
    from tests.flows import add, buyer_pays, login, order_and_start, psp_call

    account = open_account()
    connected_accounts.register_stripe_account(people["seller"], account, PASSWORD,
                                               seller_actor(people))
    client = app.test_client()
    login(client, "buyer")
    add(client, people["mug"], 2)
    order_id, payment = order_and_start(client, "EUR", "hosted")
    buyer_pays(stack["psp_url"], payment.psp_reference, "pm_card_createDispute")
    deliver_due(psp)  # authorized; our capture then opens a dispute at the sandbox
    run_jobs()
    hold = db.session.execute(select(EscrowHold).where(EscrowHold.order_id == order_id)).scalar_one()
    escrow.support_decide(hold.id, "release", SUPPORT)
    (payout_id,) = run_payouts()
    run_jobs()  # paid by transfer before the dispute's webhook arrives
    assert fresh(Payout, payout_id).status == "paid"
    settle(psp)  # dispute.created freezes the released share: the balance goes below zero
    assert available(people) == -4320
    dispute = db.session.execute(select(LedgerTransaction.intent).where(
        LedgerTransaction.event == "dispute_opened")).scalar_one().rsplit(":", 1)[1]
    assert psp_call(stack["psp_url"], "POST", f"/v1/test_helpers/disputes/{dispute}/close",
                    {"outcome": "lost"}).status_code == 200
    settle(psp)  # the loss is booked on the frozen share, and its clawback queued at once
    run_jobs()
    (reversal,) = stripe_fake.of_kind("transfer_reversal")
    assert (reversal["transfer"], reversal["amount"]) == (fresh(Payout, payout_id).psp_reference,
                                                          4320)
    assert available(people) == 0
    assert enqueue_for_posting(f"dispute_lost:sandbox:{dispute}") == 1
    run_jobs()
    assert len(stripe_fake.of_kind("transfer_reversal")) == 1
