"""Issue 13's "Done when" on the sandbox: after the journeys `make run` offers — payments, a
refund by support, a claim decided with a refund, a chargeback won and one lost, a seller paid
out — and the day's settlement import, nothing is left to resolve and PSP clearing is at zero:
every line the PSP reported matched our ledger and was settled."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models.reconciliation import SettlementLine
from app.services.audit import Actor
from app.services.disputes import claims, decisions
from app.services.disputes.decisions import Decision
from app.services.money.ledger_checks import check_all
from app.services.reconciliation import differences
from app.services.refunds import refunds
from tests.blueprints.money_steps import holds
from tests.flows import latest_payment, paid_order
from tests.services.disputes.test_svc_chargebacks import case_of, close_at_psp, disputed_order
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
