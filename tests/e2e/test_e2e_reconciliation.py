"""Reconciliation in Chromium (issue 13's done-when): after a payment, its capture, a payout
and a settlement import, the support page shows no unresolved difference and clearing at zero;
then a refund made in the sandbox's own dashboard, a fee the sandbox changed and a payout the
bank sent back (its webhook lost) each appear as the right kind of difference, and support
resolves each one with its correcting posting, back to zero.

Money is checked against the sandbox's own records (its balance transactions), not only ours.
"""
from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from tests.e2e.steps import (
    VISA,
    check_out,
    confirm_dialog,
    continue_to_payment,
    expect_asked,
    log_in,
    pay_with,
    wait_for,
)
from tests.e2e.test_e2e_marketplace_money import (
    GOOD_IBAN,
    SETTLE_MS,
    add_bank_account,
    ledger_check_passes,
)

pytestmark = pytest.mark.e2e


def today() -> str:
    return dt.datetime.now(dt.timezone.utc).date().isoformat()


def forget_movements(psp) -> None:
    """Earlier journeys' sandbox movements belong to orders emptied since: start without them."""
    from sandbox_psp.models import BalanceTransaction
    from sandbox_psp.models import db as psp_db

    with psp.app.app_context():
        psp_db.session.execute(psp_db.delete(BalanceTransaction))
        psp_db.session.commit()
        psp_db.session.remove()


def import_today(page) -> None:
    """Support imports today's sandbox report and waits on the page for the match to end."""
    page.goto("/support/reconciliation")
    form = page.locator("#import-form")
    form.get_by_label("Provider").select_option("sandbox")
    form.get_by_label("Day (UTC)").fill(today())
    form.get_by_role("button", name="Import and match").click()
    progress = page.locator("#import-progress")
    expect(progress).to_have_attribute("data-status", "done", timeout=30_000)  # htmx polls
    page.locator("#import-done").click()


def clearing_row(page):
    return page.locator(f'#clearing tr[data-day="{today()}"][data-provider="sandbox"]'
                        f'[data-currency="EUR"]')


def resolve(page, kind: str, source: str, button: str, reason: str) -> None:
    page.goto("/support/reconciliation")
    row = page.locator(f'#differences tr[data-kind="{kind}"][data-source="{source}"]')
    row.get_by_role("link").click()
    page.get_by_label("Reason", exact=True).fill(reason)
    asked = confirm_dialog(page)
    page.get_by_role("button", name=button).click()
    expect_asked(page, asked, re.escape(button))
    expect(page.locator("#difference-status")).to_have_text("resolved")


def test_settlement_reconciles_and_each_difference_is_found_and_resolved(
        page, shop, stack, topology, journey):
    from app.extensions import db
    from app.models import EscrowHold, Payout
    from tests.flows import latest_payment

    sandbox = topology["sandbox"]
    forget_movements(sandbox)
    log_in(page, "buyer")
    order_id = check_out(page, "Mug")
    continue_to_payment(page, "Hosted payment page")
    pay_with(page, VISA, journey)
    expect(page.get_by_text("Payment received.")).to_be_visible(timeout=45_000)
    wait_for(lambda: db.session.query(EscrowHold).filter_by(order_id=order_id).count(),
             lambda n: n == 1)
    payment = latest_payment(order_id)

    log_in(page, "support")
    page.goto(f"/support/payments/{payment.id}")
    asked = confirm_dialog(page)
    page.get_by_role("button", name="Release Mug").click()
    expect_asked(page, asked, r"Release")
    log_in(page, "seller")
    add_bank_account(page, GOOD_IBAN)
    page.goto("/seller")
    page.get_by_role("button", name="Pay out now").click()
    expect(page.locator("#payouts .badge")).to_have_text("paid", timeout=SETTLE_MS)
    payout = wait_for(lambda: db.session.query(Payout).one_or_none(),
                      lambda p: p is not None and p.status == "paid")

    # 1. A clean day: zero unresolved, clearing at zero, every sandbox movement imported.
    log_in(page, "support")
    import_today(page)
    expect(page.locator("#unresolved-count")).to_have_text("0")
    expect(clearing_row(page)).to_have_attribute("data-amount", "0")
    expect(page.locator("#differences")).to_contain_text("No differences to resolve.")
    # Clearing is charted per currency, written as money in that currency.
    expect(page.locator("svg.chart #clearing-eur-title")).to_have_count(1)
    expect(page.locator("svg.chart #clearing-eur-desc")).to_contain_text("sandbox EUR €")
    movements = sandbox.api("GET", "/v1/balance_transactions?limit=100").json()["data"]
    assert sorted(t["type"] for t in movements) == ["charge", "payout"]
    charge = next(t for t in movements if t["type"] == "charge")
    assert charge["net"] == payment.amount_captured - payment.psp_fee_amount

    # 2. Money moved at the PSP behind our back.
    page.goto(sandbox.url + "/")
    refund_form = page.locator(f'form[data-session="{payment.psp_reference}"]').first
    refund_form.get_by_label(re.compile("^Refund amount")).fill("500")
    refund_form.get_by_role("button", name="Refund").click()
    expect(page.locator("#dashboard-message")).to_contain_text("Refunded 500")
    fee_form = page.locator(f'form[data-session="{payment.psp_reference}"]').nth(1)
    fee_form.get_by_label(re.compile("^New fee")).fill(str(payment.psp_fee_amount + 15))
    fee_form.get_by_role("button", name="Change fee").click()
    expect(page.locator("#dashboard-message")).to_contain_text("The fee of")
    webhook_url = sandbox.app.config["SANDBOX_WEBHOOK_URL"]
    sandbox.app.config["SANDBOX_WEBHOOK_URL"] = None  # the payout's webhook is lost
    try:
        assert sandbox.api("POST", f"/v1/test_helpers/payouts/{payout.psp_reference}/return"
                           ).status_code == 200
    finally:
        sandbox.app.config["SANDBOX_WEBHOOK_URL"] = webhook_url

    log_in(page, "support")
    import_today(page)
    expect(page.locator("#unresolved-count")).to_have_text("3")
    differences = page.locator("#differences")
    refund_row = differences.locator('tr[data-kind="missing_ours"][data-type="refund"]')
    expect(refund_row).to_contain_text("Missing on our side")
    expect(refund_row).to_contain_text("-€5.00")
    expect(differences.locator(
        f'tr[data-kind="fee_mismatch"][data-source="{payment.psp_reference}"]')).to_have_count(1)
    expect(differences.locator(
        f'tr[data-kind="missing_ours"][data-type="payout_failure"]'
        f'[data-source="{payout.psp_reference}"]')).to_have_count(1)
    refund_id = refund_row.get_attribute("data-source")

    resolve(page, "missing_ours", refund_id,
            "Book the PSP's refund in Holdfast (split over the lines by the refund policy)",
            "Refunded by phone at the PSP")
    resolve(page, "fee_mismatch", payment.psp_reference, "Post the fee difference to PSP fees",
            "The PSP re-rated the card")
    resolve(page, "missing_ours", payout.psp_reference,
            "Apply the PSP's payout status (a returned payout goes back to the seller)",
            "The bank sent the payout back")

    page.goto("/support/reconciliation")
    expect(page.locator("#unresolved-count")).to_have_text("0")
    expect(clearing_row(page)).to_have_attribute("data-amount", "0")
    db.session.rollback()
    assert db.session.get(Payout, payout.id).status == "returned"
    assert latest_payment(order_id).amount_refunded == 500
    ledger_check_passes(stack)
