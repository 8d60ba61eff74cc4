"""Settlement import and matching against the sandbox: a clean day reconciles to zero, and a
refund made at the PSP, a changed fee, an adjustment and a returned payout are each found as
the right kind of difference and resolved with a correcting, audited posting."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditRecord, Payment, Refund
from app.models.reconciliation import SettlementImport, SettlementLine
from app.services.errors import Conflict, ServiceError
from app.services.reconciliation import differences
from tests.flows import latest_payment, paid_order, psp_call, settle
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


@pytest.fixture(autouse=True)
def _own_sandbox_day(psp):
    forget_psp_movements(psp)


def captured(client, people, stack, psp) -> Payment:
    return latest_payment(paid_order(client, people, stack, psp, {"mug": 2, "candle": 1}))


def test_a_captured_payment_reconciles_to_zero_and_importing_twice_changes_nothing(
        client, people, stack, psp):
    payment = captured(client, people, stack, psp)
    assert clearing_total() == payment.amount_captured - payment.psp_fee_amount

    row = reconcile()
    assert row.status == "done" and row.lines_imported == 1
    assert open_differences() == []
    assert clearing_today() == 0 and clearing_total() == 0

    again = reconcile()
    assert again.id == row.id and again.lines_imported == 0  # nothing new in the report
    assert db.session.execute(select(func.count()).select_from(SettlementLine)).scalar_one() == 1
    assert open_differences() == [] and clearing_total() == 0


def test_a_refund_made_at_the_psp_is_missing_on_our_side_and_resolving_books_it(
        client, people, stack, psp):
    payment = captured(client, people, stack, psp)
    psp_call(stack["psp_url"], "POST", "/v1/refunds",
             {"payment_session": payment.psp_reference, "amount": 1690})
    settle(psp)  # its webhook: a refund we did not make is flagged, not booked

    reconcile()
    [diff] = open_differences()
    assert (diff.kind, diff.type, diff.psp_net, diff.ledger_net) == (
        "missing_ours", "refund", -1690, None)
    assert diff.payment == payment.psp_reference
    assert differences.unresolved_count() == 1

    differences.resolve(diff.id, FINANCE, correct=True, reason="Refunded by phone at the PSP")

    refund = db.session.execute(select(Refund)).scalar_one()
    assert (refund.status, refund.amount, refund.psp_reference) == (
        "succeeded", 1690, diff.source)
    assert db.session.get(Payment, payment.id).status == "partially_refunded"
    assert open_differences() == [] and clearing_today() == 0
    assert db.session.execute(select(func.count()).select_from(AuditRecord).where(
        AuditRecord.action == "reconciliation.resolved")).scalar_one() == 1
    with pytest.raises(Conflict):
        differences.resolve(diff.id, FINANCE, correct=True, reason="again")
    reconcile()  # the same report again: the booked refund now matches it
    assert open_differences() == [] and db.session.execute(
        select(func.count()).select_from(Refund)).scalar_one() == 1


def test_a_changed_fee_is_a_fee_mismatch_and_resolving_posts_the_difference(
        client, people, stack, psp):
    payment = captured(client, people, stack, psp)
    new_fee = payment.psp_fee_amount + 45
    psp_call(stack["psp_url"], "POST",
             f"/v1/test_helpers/payment_sessions/{payment.psp_reference}/fee", {"fee": new_fee})

    reconcile()
    [diff] = open_differences()
    assert (diff.kind, diff.psp_fee, diff.ledger_fee) == (
        "fee_mismatch", new_fee, payment.psp_fee_amount)
    with pytest.raises(ServiceError):
        differences.resolve(diff.id, FINANCE, correct=True, reason="  ")

    differences.resolve(diff.id, FINANCE, correct=True, reason="The PSP re-rated the card")
    assert open_differences() == [] and clearing_today() == 0 and clearing_total() == 0


def test_an_adjustment_at_the_psp_is_an_unknown_object_posted_to_psp_fees(
        client, people, stack, psp):
    captured(client, people, stack, psp)
    psp_call(stack["psp_url"], "POST", "/v1/test_helpers/balance_adjustments",
             {"amount": -250, "currency": "eur", "description": "Monthly fee"})

    reconcile()
    [diff] = open_differences()
    assert (diff.kind, diff.type, diff.psp_net) == ("unknown_object", "adjustment", -250)
    differences.resolve(diff.id, FINANCE, correct=True, reason="Account fee for December")
    assert open_differences() == [] and clearing_today() == 0


def test_a_payout_returned_with_its_webhook_lost_is_missing_on_our_side(
        client, people, stack, psp):
    released_order(client, people, stack, psp)
    payout = paid_out(people, psp)
    assert payout.status == "paid"
    reconcile()
    assert open_differences() == [] and clearing_today() == 0

    psp_call(stack["psp_url"], "POST", f"/v1/test_helpers/payouts/{payout.psp_reference}/return")
    reconcile()  # its payout.failed webhook never arrives
    [diff] = open_differences()
    assert (diff.kind, diff.type, diff.psp_net) == ("missing_ours", "payout_failure",
                                                   payout.amount)

    differences.resolve(diff.id, FINANCE, correct=True, reason="The bank sent it back")
    db.session.expire_all()
    assert db.session.get(type(payout), payout.id).status == "returned"
    assert open_differences() == [] and clearing_today() == 0


def test_a_capture_the_psp_does_not_report_waits_in_transit_then_is_missing(
        client, people, stack, psp):
    payment = captured(client, people, stack, psp)
    forget_psp_movements(psp)  # the PSP's report of the day lacks the charge
    reconcile()
    [diff] = open_differences()
    assert (diff.kind, diff.source) == ("in_transit", payment.psp_reference)
    assert differences.unresolved_count() == 0  # timing keeps nothing failing yet

    db.session.add(SettlementImport(provider="sandbox", day="2999-01-01", status="done"))
    db.session.commit()  # a later day's report is in, and still no charge
    reconcile()
    [diff] = open_differences()
    assert diff.kind == "missing_psp" and differences.unresolved_count() == 1
    with pytest.raises(ServiceError):  # nothing to post: only a reason resolves it
        differences.resolve(diff.id, FINANCE, correct=True, reason="?")
    differences.resolve(diff.id, FINANCE, correct=False, reason="PSP confirmed by e-mail")
    reconcile()
    assert open_differences() == []  # a person's decision is not raised again


def test_a_running_import_is_not_queued_twice_but_a_stale_one_is_resumed(app, monkeypatch):
    from datetime import timedelta

    from app.clock import now
    from app.services.reconciliation import imports

    queued = []
    monkeypatch.setattr(imports.queues, "enqueue", lambda *a, **k: queued.append(a))
    first = imports.request_import("sandbox", "2026-01-05", FINANCE)
    assert imports.request_import("sandbox", "2026-01-05", FINANCE) == first
    assert len(queued) == 1  # the first job is on it
    row = db.session.get(SettlementImport, first)
    row.status, row.cursor = "importing", "txn_page2"
    row.started_at = now() - timedelta(hours=1)  # its worker died mid-import
    db.session.commit()
    imports.request_import("sandbox", "2026-01-05", FINANCE)
    assert len(queued) == 2
    db.session.expire_all()
    assert db.session.get(SettlementImport, first).cursor == "txn_page2"  # resumes there
