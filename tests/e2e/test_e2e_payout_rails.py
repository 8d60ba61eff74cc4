"""Payout rails in Chromium: the seller sees which rail pays them, a paid payout that the bank
sends back turns "returned" on their dashboard and the money is in their available balance
again — checked against the sandbox PSP's own record of that payout."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.steps import confirm_dialog, expect_asked, log_in
from tests.e2e.test_e2e_marketplace_money import (
    GOOD_IBAN,
    SETTLE_MS,
    add_bank_account,
    buyer_pays_mug_and_candle,
    ledger_check_passes,
    stat,
)

pytestmark = pytest.mark.e2e


def test_a_returned_payout_is_shown_and_its_money_is_back(page, shop, stack, journey):
    from app.extensions import db
    from app.models import Payout
    from tests.flows import latest_payment, psp_call

    order_id = buyer_pays_mug_and_candle(page, journey)
    log_in(page, "support")
    page.goto(f"/support/payments/{latest_payment(order_id).id}")
    asked = confirm_dialog(page)
    page.get_by_role("button", name="Release Candle").click()
    expect_asked(page, asked, r"Release €15\.21 of Candle to Other Seller\?")

    log_in(page, "other_seller")
    add_bank_account(page, GOOD_IBAN)
    page.goto("/seller")
    payouts = page.locator("#payouts")
    expect(payouts.locator("[data-rail]").first).to_have_text(
        "Paid by: Bank transfer (sandbox) to …3000")
    page.get_by_role("button", name="Pay out now").click()
    expect(payouts.locator(".badge")).to_have_text("paid", timeout=SETTLE_MS)
    expect(payouts.locator("tbody td[data-rail]")).to_have_text("Bank transfer (sandbox)")
    expect(stat(page, "available")).to_have_text("€0.00")
    expect(stat(page, "paid_out")).to_have_text("€15.21")

    # Days later the seller's bank sends it back (the sandbox's test helper stands for it).
    db.session.rollback()
    payout = db.session.query(Payout).one()
    psp_call(stack["psp_url"], "POST",
             f"/v1/test_helpers/payouts/{payout.psp_reference}/return").raise_for_status()
    page.goto("/seller")
    alert = page.locator("#balances [role=alert]")
    expect(alert).to_contain_text("Your payout of €15.21", timeout=SETTLE_MS)
    expect(alert).to_contain_text("came back from your bank")
    expect(payouts.locator(".badge")).to_have_text("returned")
    expect(payouts).to_contain_text("Your bank says this account is closed")
    expect(stat(page, "available")).to_have_text("€15.21")
    expect(stat(page, "paid_out")).to_have_text("€0.00")

    # The sandbox's own record of the payout says the same.
    record = psp_call(stack["psp_url"], "GET", f"/v1/payouts/{payout.psp_reference}").json()
    assert (record["status"], record["failure_code"], record["amount"],
            record["currency"].upper()) == ("failed", "account_closed", 1521, "EUR")
    ledger_check_passes(stack)
