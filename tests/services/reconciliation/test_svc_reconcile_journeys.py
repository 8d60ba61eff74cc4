"""Issue 13's "Done when" on the sandbox: after the journeys `make run` offers — payments, a
refund by support, a claim decided with a refund, a chargeback won and one lost, a seller paid
out, a seller paid by Stripe Connect out of sales collected at the sandbox — and the day's
settlement imports, nothing is left to resolve and PSP clearing is at zero: every line each PSP
reported matched our ledger and was settled."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.domain.ledger import AccountKind
from app.extensions import db
from app.jobs.payouts import run_payouts
from app.models import Payout
from app.models.payouts import FundingTransfer
from app.models.reconciliation import SettlementLine
from app.services.audit import Actor
from app.services.disputes import claims, decisions
from app.services.disputes.decisions import Decision
from app.services.money import ledger
from app.services.money.ledger_checks import check_all
from app.services.reconciliation import differences
from app.services.refunds import refunds
from tests.blueprints.money_steps import holds
from tests.fakes.stripe.wiring import stripe_on
from tests.flows import latest_payment, paid_order, settle
from tests.services.disputes.test_svc_chargebacks import case_of, close_at_psp, disputed_order
from tests.services.money.test_svc_stripe_connect import (
    API_KEY,
    WEBHOOK_SECRET,
    connected_seller_with_sale,
)
from tests.services.reconciliation.recon_steps import (
    FINANCE,
    clearing_today,
    clearing_total,
    forget_psp_movements,
    open_differences,
    paid_out,
    reconcile,
    released_order,
)

BUYER = Actor("buyer@test.example", "127.0.0.1")


@pytest.fixture(autouse=True)
def _own_sandbox_day(psp):
    forget_psp_movements(psp)


def test_after_every_journey_and_an_import_nothing_is_unresolved_and_clearing_is_zero(
        app, client, people, stack, psp):
    staff = Actor("support@test.example", "127.0.0.1", people["support"])
    # Pay; a partial refund by support.
    refunded = latest_payment(paid_order(client, people, stack, psp, {"mug": 2, "candle": 1}))
    refunds.request_refund(refunded.id, amount=1000, reason="Chipped", actor=FINANCE,
                           by="support")
    # A claim support decides with a full refund of the line.
    claimed = paid_order(client, people, stack, psp, {"mug": 1})
    case = claims.open_claim(people["buyer"], holds(claimed)["Mug"].order_line_id,
                             "not_as_described", "Cracked.", [], BUYER)
    decisions.decide(case.id, Decision("refund_full"), staff)
    # (Before the chargebacks, which make fraud screening hold this buyer's next orders.)
    # A released sale paid out to the seller's bank.
    released_order(client, people, stack, psp)
    assert paid_out(people, psp).status == "paid"
    # Chargebacks: one won, one lost.
    won = case_of(disputed_order(app, people, stack, psp, {"mug": 1}))
    close_at_psp(stack, psp, won, "won")
    lost = case_of(disputed_order(app, people, stack, psp, {"candle": 1}))
    close_at_psp(stack, psp, lost, "lost")

    row = reconcile()
    lines = dict(db.session.execute(select(SettlementLine.type, func.count())
                                    .group_by(SettlementLine.type)).all())
    assert lines["charge"] == 5 and lines["refund"] == 2 and lines["payout"] == 1
    assert lines["dispute"] == 2 and lines["dispute_reversal"] == 1
    assert row.status == "done"
    assert [(d.kind, d.type, d.source) for d in open_differences()] == []
    assert differences.unresolved_count() == 0
    assert db.session.execute(select(func.count()).select_from(SettlementLine).where(
        SettlementLine.settlement_txn_id.is_(None))).scalar_one() == 0
    assert clearing_today() == 0 and clearing_total() == 0
    assert check_all() == []


def test_a_connect_payout_of_sandbox_sales_funded_by_a_top_up_reconciles_at_both_psps(
        app, client, people, stack, psp):
    """Collected at the sandbox, paid out by Stripe Connect: the treasury's top-up is Stripe's
    `topup` line, the sandbox's payout to the platform's bank repays it; after both PSPs'
    imports nothing is open and both clearings are at zero, never below it on the way."""
    seen = {"sandbox": [], "stripe": []}

    def look() -> None:
        for provider, amounts in seen.items():
            amounts.append(ledger.balance(AccountKind.PSP_CLEARING, provider, "EUR"))

    with stripe_on(app, API_KEY, WEBHOOK_SECRET) as stripe_fake:
        connected_seller_with_sale(client, people, stack, psp)
        look()
        (payout_id,) = run_payouts()
        look()
        settle(psp)  # the submit job tops Stripe up, repays the treasury, pays the seller
        look()
        payout = db.session.get(Payout, payout_id)
        (funding,) = db.session.execute(select(FundingTransfer)).scalars().all()
        assert (payout.provider, payout.status) == ("stripe", "paid")
        assert (funding.from_provider, funding.status) == ("sandbox", "succeeded")
        (topup,) = stripe_fake.of_kind("topup")
        assert [t["type"] for t in stripe_fake.of_kind("balance_transaction")
                if t["source"] == topup["id"]] == ["topup"]

        sandbox_day, stripe_day = reconcile("sandbox"), reconcile("stripe")
        look()
        assert (sandbox_day.status, stripe_day.status) == ("done", "done")
        lines = set(db.session.execute(select(SettlementLine.provider, SettlementLine.type,
                                              SettlementLine.source)).all())
        assert ("stripe", "topup", funding.psp_reference) in lines
        assert ("stripe", "payout", payout.psp_reference) in lines  # the Connect transfer
        assert ("sandbox", "payout", funding.sweep_reference) in lines
        assert [(d.kind, d.provider, d.type, d.source) for d in open_differences()] == []
        # Every line agreed: the sandbox's were settled; Stripe's top-up in and transfer out
        # cancel out, and matching moves nothing for a day that nets to zero.
        unsettled = db.session.execute(select(SettlementLine.provider, SettlementLine.type,
                                              SettlementLine.net).where(
            SettlementLine.settlement_txn_id.is_(None))).all()
        assert sorted(unsettled) == [("stripe", "payout", -4320), ("stripe", "topup", 4320)]
        for provider in ("sandbox", "stripe"):
            assert clearing_today(provider) == 0 and clearing_total(provider) == 0
            assert min(seen[provider]) >= 0, (provider, seen[provider])
        assert seen["stripe"][:3] == [0, 0, 0]  # topped up and paid out within the job
        assert check_all() == []
