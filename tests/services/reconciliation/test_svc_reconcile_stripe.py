"""Stripe's report reconciles against its fake: a captured, refunded, disputed-and-won payment
matches the ledger line for line and clearing returns to zero; a refund made in Stripe's
dashboard is found missing on our side."""
from __future__ import annotations

import requests

from app.services.audit import Actor
from app.services.refunds import refunds
from tests.fakes.stripe.controls import close, dispute
from tests.services.money import test_svc_money_on_stripe as on_stripe
from tests.services.money.test_svc_money_on_stripe import deliver, intent_of, paid
from tests.services.reconciliation.recon_steps import (
    clearing_today,
    open_differences,
    reconcile,
)

SUPPORT = Actor("support@test.example", "127.0.0.1")
stripe_fake = on_stripe.stripe_fake  # the money suite's fixture: every payment on the fake


def test_a_stripe_day_reconciles_to_zero(app, people, stripe_fake):
    payment = paid(people, stripe_fake)
    refunds.request_refund(payment.id, amount=1000, reason="Chipped mug", actor=SUPPORT,
                           by="support")
    deliver(stripe_fake)
    disputed = paid(people, stripe_fake)
    dispute_id = dispute(stripe_fake, intent_of(stripe_fake, disputed)["id"])
    deliver(stripe_fake)
    close(stripe_fake, dispute_id, "won")
    deliver(stripe_fake)

    row = reconcile("stripe")
    assert row.status == "done" and row.lines_imported == 5  # 2 charges, refund, dispute ±
    assert [(d.kind, d.type) for d in open_differences()] == []
    assert clearing_today("stripe") == 0


def test_a_refund_made_in_stripes_dashboard_is_missing_on_our_side(app, people, stripe_fake):
    payment = paid(people, stripe_fake)
    answer = requests.post(f"{stripe_fake.public_url}/v1/refunds", timeout=10, data={
        "charge": intent_of(stripe_fake, payment)["latest_charge"], "amount": 700},
        headers={"Authorization": f"Bearer {stripe_fake.api_key}"})
    assert answer.status_code == 200
    reconcile("stripe")
    [diff] = open_differences()
    assert (diff.kind, diff.type, diff.psp_net, diff.payment) == (
        "missing_ours", "refund", -700, payment.psp_reference)


def test_a_connect_transfer_reversal_matches_the_clawback_it_booked(
        client, people, stack, psp, app):
    """Sales on the sandbox, the seller paid by Connect transfer (funded by a top-up) and part
    of it reversed after a refund: Stripe's transfer_refund line is the reversal we booked."""
    from sqlalchemy import select

    from app.extensions import db
    from app.models.payouts import FundingTransfer
    from app.models.transfer_reversals import TransferReversal
    from app.services.money import clawbacks
    from tests.flows import run_jobs
    from tests.services.money import test_svc_stripe_connect as connect_suite
    from tests.services.reconciliation.recon_steps import forget_psp_movements

    forget_psp_movements(psp)
    with connect_suite.stripe_on(app, connect_suite.API_KEY, connect_suite.WEBHOOK_SECRET):
        connect_suite.paid_out_then_refunded(client, people, stack, psp, 2400)
        assert connect_suite.sweep_clawbacks() == 1
        run_jobs()
        reversal = db.session.execute(select(TransferReversal)).scalar_one()
        assert reversal.status == "succeeded" and clawbacks.due() == []

        reconcile("stripe")
        lines = {(line.type, line.source) for line in stripe_lines()}
        assert ("transfer_reversal", reversal.psp_reference) in lines
        assert [(d.kind, d.type, d.source) for d in open_differences()] == []
        [line] = [line for line in stripe_lines() if line.type == "transfer_reversal"]
        assert (line.net, line.settlement_txn_id is not None) == (reversal.amount, True)
        # The treasury top-up that funded the transfer is Stripe's `topup` line, matched too.
        assert ("topup", db.session.execute(select(FundingTransfer.psp_reference))
                .scalar_one()) in lines
        assert clearing_today("stripe") == 0


def stripe_lines():
    from sqlalchemy import select

    from app.extensions import db
    from app.models.reconciliation import SettlementLine

    return db.session.execute(select(SettlementLine).where(
        SettlementLine.provider == "stripe")).scalars().all()
