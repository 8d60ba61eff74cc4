"""A give-back (a second payment of an order already paid, captured at the PSP and refunded by
the platform itself, services/payments/give_back) reconciles: its charge matches the capture
booked with the PSP's fee, its refund line matches the give-back refund that has no refund row
of ours, and clearing returns to zero."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models.reconciliation import SettlementLine
from app.services.money.ledger_checks import check_all
from tests.flows import buyer_pays, psp_call, settle
from tests.services.payments.test_svc_give_back import fresh, two_live_sessions
from tests.services.reconciliation.recon_steps import (
    clearing_today,
    clearing_total,
    forget_psp_movements,
    open_differences,
    reconcile,
)


@pytest.fixture(autouse=True)
def _own_sandbox_day(psp):
    forget_psp_movements(psp)


def test_a_captured_duplicate_given_back_matches_its_charge_and_refund_lines(
        client, people, stack, psp):
    _order_id, first, second = two_live_sessions(client, people)
    buyer_pays(stack["psp_url"], first.psp_reference)
    settle(psp)
    buyer_pays(stack["psp_url"], second.psp_reference)  # the buyer paid twice
    psp_call(stack["psp_url"], "POST", f"/v1/payment_sessions/{second.psp_reference}/capture", {})
    settle(psp)
    second = fresh(second.id)
    assert (second.status, second.give_back) == ("refunded", "duplicate")

    row = reconcile()
    assert row.lines_imported == 3  # two charges and the give-back refund
    refund_line = db.session.execute(select(SettlementLine).where(
        SettlementLine.type == "refund")).scalar_one()
    assert refund_line.payment == second.psp_reference
    assert [(d.kind, d.type, d.source) for d in open_differences()] == []
    assert db.session.execute(select(SettlementLine).where(
        SettlementLine.settlement_txn_id.is_(None))).scalars().all() == []
    # The PSP kept its fee on the duplicate: that is all clearing held, and it is confirmed.
    assert clearing_today() == 0 and clearing_total() == 0
    assert check_all() == []


def test_a_give_back_refund_the_psp_has_not_reported_waits_in_transit(
        client, people, stack, psp):
    _order_id, first, second = two_live_sessions(client, people)
    buyer_pays(stack["psp_url"], first.psp_reference)
    settle(psp)
    buyer_pays(stack["psp_url"], second.psp_reference)
    psp_call(stack["psp_url"], "POST", f"/v1/payment_sessions/{second.psp_reference}/capture", {})
    settle(psp)
    from sandbox_psp.models import BalanceTransaction
    from sandbox_psp.models import db as psp_db

    with psp.app_context():  # the PSP's report of the day lacks the refund
        psp_db.session.execute(psp_db.delete(BalanceTransaction).where(
            BalanceTransaction.type == "refund"))
        psp_db.session.commit()
    reconcile()
    [diff] = open_differences()
    assert (diff.kind, diff.type, diff.source) == ("in_transit", "refund", second.psp_reference)
