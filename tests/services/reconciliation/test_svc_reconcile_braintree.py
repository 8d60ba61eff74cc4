"""Braintree's settled transactions reconcile against its fake: a captured and refunded
payment matches the ledger once the nightly batch settled both, clearing returns to zero; a
credit issued in Braintree's control panel is missing on our side."""
from __future__ import annotations

from app.services.audit import Actor
from app.services.refunds import refunds
from tests.services.money import test_svc_money_on_braintree as on_braintree
from tests.services.money.test_svc_money_on_braintree import paid
from tests.services.reconciliation.recon_steps import (
    clearing_today,
    open_differences,
    reconcile,
    today,
)

SUPPORT = Actor("support@test.example", "127.0.0.1")
fake = on_braintree.fake  # the money suite's fixture: every payment on the fake gateway


def test_a_braintree_day_reconciles_to_zero(app, people, fake):
    payment = paid(people, fake)
    refunds.request_refund(payment.id, amount=1000, reason="Chipped mug", actor=SUPPORT,
                           by="support")
    fake.settle_batch()
    row = reconcile("braintree")
    assert row.status == "done" and row.lines_imported == 2
    assert open_differences() == []
    assert clearing_today("braintree") == 0


def test_a_credit_made_in_the_control_panel_is_missing_on_our_side(app, people, fake):
    from app.providers.registry import get_provider

    payment = paid(people, fake)
    credit = get_provider("braintree").inner.gateway.transaction.refund(
        payment.psp_reference, "7.00").transaction
    fake.settle_batch()
    reconcile("braintree")
    [diff] = open_differences()
    assert (diff.kind, diff.type, diff.source, diff.psp_net, diff.payment) == (
        "missing_ours", "refund", credit.id, -700, payment.psp_reference)


def test_braintree_chargebacks_won_and_lost_match_their_dispute_postings(app, people, fake):
    from tests.services.money.test_svc_money_on_braintree import disputed, notify

    _, won = disputed(people, fake)  # the sale settles, the bank disputes it
    fake.close_dispute(won.psp_reference, "won")
    notify(fake, "dispute_won", won.psp_reference)
    _, lost = disputed(people, fake)
    fake.close_dispute(lost.psp_reference, "lost")
    notify(fake, "dispute_lost", lost.psp_reference)

    row = reconcile("braintree")
    # Two settled sales, two chargebacks opened, one won back (the lost one moves no money).
    assert row.status == "done" and row.lines_imported == 5
    lines = {(line.type, line.source): line.net for line in braintree_lines()}
    assert lines[("dispute", won.psp_reference)] == -(won.amount + on_braintree.DISPUTE_FEE)
    assert lines[("dispute_reversal", won.psp_reference)] == won.amount
    assert lines[("dispute", lost.psp_reference)] == -(lost.amount + on_braintree.DISPUTE_FEE)
    assert [(d.kind, d.type, d.source) for d in open_differences()] == []
    assert clearing_today("braintree") == 0


def test_a_chargeback_braintree_took_that_we_never_heard_of_is_missing_on_our_side(
        app, people, fake):
    payment = paid(people, fake, "fake-disputed-visa-nonce")  # dispute_opened never arrives
    [dispute_id] = fake.transactions[payment.psp_reference]["disputes"]
    reconcile("braintree")
    [diff] = open_differences()
    assert (diff.kind, diff.type, diff.source, diff.payment) == (
        "missing_ours", "dispute", dispute_id, payment.psp_reference)
    assert diff.psp_net == -(payment.amount + on_braintree.DISPUTE_FEE)


def braintree_lines():
    from sqlalchemy import select

    from app.extensions import db
    from app.models.reconciliation import SettlementLine

    return db.session.execute(select(SettlementLine).where(
        SettlementLine.provider == "braintree")).scalars().all()


def test_a_batch_summary_that_disagrees_with_the_lines_is_a_difference(app, people, fake):
    from app.services.reconciliation import differences

    kept = paid(people, fake)
    lost = paid(people, fake)
    fake.missing_from_search.add(lost.psp_reference)  # the search lost it; the summary has it
    row = reconcile("braintree")
    assert row.lines_imported == 1
    summary = [d for d in open_differences() if d.kind == "summary_mismatch"]
    [diff] = summary
    assert (diff.type, diff.source, diff.currency) == (
        "batch_summary", f"{fake.merchant_id}:EUR:sale", "EUR")
    assert (diff.psp_net, diff.ledger_net) == (kept.amount + lost.amount, kept.amount)
    assert "says 2 for" in diff.note and "its lines 1 for" in diff.note
    assert differences.unresolved_count() >= 1  # `flask reconcile` keeps failing
    assert differences.correction_for(diff) is None  # only a reason resolves it

    fake.missing_from_search.clear()  # the PSP's report is whole again
    reconcile("braintree")
    assert [d for d in open_differences() if d.kind == "summary_mismatch"] == []
    assert open_differences() == []


def test_a_batch_summary_that_agrees_raises_nothing(app, people, fake):
    from app.services.reconciliation import controls

    payment = paid(people, fake)
    refunds.request_refund(payment.id, amount=1000, reason="Chipped mug", actor=SUPPORT,
                           by="support")
    fake.settle_batch()
    reconcile("braintree")
    checks = controls.fetch("braintree", today())
    assert {(c.kind, c.reported_count, c.reported_amount) for c in checks} == {
        ("sale", 1, payment.amount), ("credit", 1, -1000)}
    assert all(c.agrees for c in checks) and open_differences() == []
