"""Screens that tell the truth about the money, at desktop and phone width (390 px).

Refund, claim and chargeback journeys in Chromium; after each, every role's screens (the
buyer's orders and order page, the seller's dashboard, support's payment and case pages) are
read and compared with the ledger and the state tables, and no screen scrolls sideways. The
nine points of issue 12 are marked (1)–(9) where a journey checks them; (4), the stale decline,
has its own journey.
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e import truth
from tests.e2e.steps import (
    check_out,
    confirm_dialog,
    continue_to_payment,
    expect_asked,
    log_in,
    pay_with,
    wait_for,
)
from tests.e2e.test_e2e_disputes import DISPUTE_CARD, case_for, ledger_check_passes
from tests.e2e.test_e2e_marketplace_money import buyer_pays_mug_and_candle

pytestmark = pytest.mark.e2e
WIDTHS = ["desktop", "phone"]


@pytest.fixture(params=WIDTHS)
def width(request, page):
    """Run the journey at desktop width, and again on a phone (390 px)."""
    if request.param == "phone":
        page.set_viewport_size(truth.PHONE)
    return request.param


def lines_of(page, order_id: int) -> dict[str, str]:
    """The buyer's order page: each line's amount as shown, by title."""
    page.goto(f"/orders/{order_id}")
    truth.fits(page)
    rows = page.locator("#delivery li[data-line]")
    return {rows.nth(i).locator("strong").inner_text().split(" · ")[0]:
            rows.nth(i).locator(".amount").inner_text() for i in range(rows.count())}


def support_rows(page, payment_id: int) -> dict[str, str]:
    """Support's payment page: each line's escrow amount as shown, by title."""
    page.goto(f"/support/payments/{payment_id}")
    truth.fits(page)
    rows = page.locator("tr[data-hold]")
    return {rows.nth(i).locator("td").first.inner_text().split(" × ")[0]:
            rows.nth(i).locator(".amount").inner_text() for i in range(rows.count())}


def test_refunds_then_every_screen_agrees(page, shop, stack, journey, width):
    from tests.flows import latest_payment

    order_id = buyer_pays_mug_and_candle(page, journey)
    mug = truth.holds(order_id)["Mug"]

    # The seller refunds €10 of the mug, typed the way a German seller writes it.
    log_in(page, "seller")
    page.goto(f"/seller/lines/{mug.order_line_id}/refund")
    page.get_by_label("Amount to refund").fill("10,00")
    page.get_by_label("Reason (shown to the buyer)").fill("A chip on the handle.")
    page.get_by_role("button", name="Preview refund").click()
    expect(page.locator('#preview [data-kind="amount"]')).to_have_text("€10.00")
    truth.fits(page)
    page.get_by_role("button", name="Confirm refund of €10.00").click()
    wait_for(lambda: truth.holds(order_id)["Mug"].refunded_amount, lambda v: v == 1000)

    # Support refunds €5 of the candle.
    payment_id = latest_payment(order_id).id
    log_in(page, "support")
    page.goto(f"/support/payments/{payment_id}")
    page.get_by_label(re.compile(r"^Candle × 1")).fill("5.00")
    page.get_by_label("Reason (shown to the buyer and sellers)").fill("Wick too short.")
    page.get_by_role("button", name="Preview refund").click()
    truth.fits(page)
    page.get_by_role("button", name="Confirm refund of €5.00").click()
    wait_for(lambda: truth.holds(order_id)["Candle"].refunded_amount, lambda v: v == 500)

    held = truth.holds(order_id)
    want = {title: truth.shown(h.gross_amount - h.refunded_amount) for title, h in held.items()}
    assert want == {"Mug": "€14.00", "Candle": "€11.90"}
    # (2) support's payment page and the buyer's order page show what is left of each line.
    assert support_rows(page, payment_id) == want
    expect(page.locator("h1 .badge")).to_have_text(truth.statuses(order_id)[1])
    log_in(page, "buyer")
    assert lines_of(page, order_id) == want
    # (3) the order moved on with its money, in the list and the header alike.
    order_status, payment_status = truth.statuses(order_id)
    assert (order_status, payment_status) == ("partially_refunded", "partially_refunded")
    assert truth.status_badge(page, order_id) == "partially refunded"

    # (5) the seller's escrow tile is the ledger's, and the sum of the lines under it;
    # (1) fees per order count the refund.
    log_in(page, "seller")
    assert truth.seller_escrow_agrees(page, shop["seller"]) == 1400
    assert truth.fees_row(page, order_id) == truth.expected_fees(held["Mug"])
    expect(page.locator(f'#to-ship li[data-hold="{held["Mug"].id}"]')).to_contain_text("€14.00")
    log_in(page, "other_seller")
    assert truth.seller_escrow_agrees(page, shop["other_seller"]) == 1190
    ledger_check_passes(stack)


def test_claim_refunded_in_full_then_every_screen_agrees(page, shop, stack, journey, width):
    from tests.flows import latest_payment

    order_id = buyer_pays_mug_and_candle(page, journey)
    page.goto(f"/orders/{order_id}")
    page.get_by_role("link", name="Open a claim about Mug").click()
    page.get_by_label("The item is not as described").check()
    page.get_by_label(re.compile("^Message")).fill("The mug arrived cracked.")
    page.get_by_role("button", name="Open the claim").click()
    claim = case_for(order_id, "claim")
    assert claim is not None
    truth.fits(page)

    # (6) the frozen line says which case holds it, and links to it, for buyer and seller.
    page.goto(f"/orders/{order_id}")
    mug_line = page.locator("#delivery li[data-line]").filter(has_text="Mug")
    expect(mug_line).to_contain_text(f"Held while the buyer's claim (case #{claim.id}) is settled")
    expect(mug_line.get_by_role("link", name=f"Open case #{claim.id}")).to_have_attribute(
        "href", f"/claims/{claim.id}")
    # (9) asking support to decide is final: the buyer is asked first; "no" changes nothing.
    page.goto(f"/claims/{claim.id}")
    asked = confirm_dialog(page, accept=False)
    page.get_by_role("button", name="Ask support to decide").click()
    expect_asked(page, asked, "Ask support to decide\\? Support's decision is final")
    assert case_for(order_id, "claim").status == "open"
    asked = confirm_dialog(page)
    page.get_by_role("button", name="Ask support to decide").click()
    expect_asked(page, asked, "Ask support to decide")
    case_for(order_id, "claim", lambda c: c.status == "escalated")

    log_in(page, "seller")
    page.goto("/seller")
    escrow_line = page.locator("#escrow li[data-hold]").filter(has_text="Mug")
    expect(escrow_line).to_contain_text(f"claim (case #{claim.id})")
    expect(escrow_line.get_by_role("link", name=f"Open case #{claim.id}")).to_be_visible()

    # (9) while the claim is open support cannot release the mug; the candle's release asks.
    payment_id = latest_payment(order_id).id
    log_in(page, "support")
    page.goto(f"/support/payments/{payment_id}")
    expect(page.get_by_role("button", name="Release Mug")).to_have_count(0)
    asked = confirm_dialog(page, accept=False)
    page.get_by_role("button", name="Release Candle").click()
    expect_asked(page, asked, r"Release €15\.21 of Candle to Other Seller\? This cannot be undone")
    assert truth.holds(order_id)["Candle"].status == "held"
    asked = confirm_dialog(page)
    page.get_by_role("button", name="Release Candle").click()
    expect(page.locator(".flash-success")).to_have_text("Released to the seller.")

    # Support refunds the claim in full.
    page.goto(f"/support/disputes/{claim.id}")
    page.get_by_label("Refund in full").check()
    page.get_by_role("button", name="Preview").click()
    page.get_by_role("button", name="Confirm: refund in full").click()
    expect(page.locator(".flash-success")).to_have_text("Decision applied.")
    wait_for(lambda: truth.holds(order_id)["Mug"].status, lambda s: s == "refunded")
    assert support_rows(page, payment_id) == {"Mug": "€0.00", "Candle": "€16.90"}

    # (1) nothing left to ship for the refunded mug, and its fees row says it is gone.
    mug = truth.holds(order_id)["Mug"]
    log_in(page, "seller")
    assert truth.seller_escrow_agrees(page, shop["seller"]) == 0
    expect(page.locator(f'#to-ship li[data-hold="{mug.id}"]')).to_have_count(0)
    assert truth.fees_row(page, order_id) == truth.expected_fees(mug)
    assert truth.fees_row(page, order_id)["net"] == "€0.00"

    # (2)(3) the buyer's screens.
    log_in(page, "buyer")
    assert lines_of(page, order_id) == {"Mug": "€0.00", "Candle": "€16.90"}
    order_status, _ = truth.statuses(order_id)
    assert order_status == "partially_refunded"
    assert truth.status_badge(page, order_id) == order_status.replace("_", " ")
    ledger_check_passes(stack)


@pytest.mark.allow_console(r"HTTP 400: POST .*/support/disputes/\d+/evidence",
                          r"Failed to load resource: .* 400 .*/support/disputes/\d+/evidence")
def test_chargeback_lost_then_every_screen_agrees(page, shop, stack, journey, width):
    from tests.flows import psp_call

    log_in(page, "buyer")
    order_id = check_out(page, "Mug")
    continue_to_payment(page, "Hosted payment page")
    pay_with(page, DISPUTE_CARD, journey)
    expect(page.get_by_text("Payment received.")).to_be_visible(timeout=30_000)
    case = case_for(order_id, "chargeback")
    assert case is not None and case.reason == "fraudulent"
    mug = truth.holds(order_id)["Mug"]

    # (3) the buyer reads "disputed", as the order table says.
    wait_for(lambda: truth.statuses(order_id)[0], lambda s: s == "disputed")
    assert truth.status_badge(page, order_id) == "disputed"
    expect(page.locator("#delivery")).to_contain_text(
        f"Held while the buyer's bank disputes the payment (chargeback, case #{case.id})")

    # (1) the seller is warned not to ship; (6) the hold names the chargeback and links it.
    log_in(page, "seller")
    page.goto("/seller")
    to_ship = page.locator(f'#to-ship li[data-hold="{mug.id}"]')
    expect(to_ship.get_by_role("alert")).to_contain_text("Don't ship yet")
    expect(to_ship.get_by_role("link", name=f"Chargeback case #{case.id}")).to_have_attribute(
        "href", f"/seller/chargebacks/{case.id}")
    expect(page.locator("#escrow li[data-hold]").get_by_role(
        "link", name=f"Open case #{case.id}")).to_have_attribute(
        "href", f"/seller/chargebacks/{case.id}")
    truth.seller_escrow_agrees(page, shop["seller"])

    # (7) one liability on the case page: the header and the form say the same party.
    log_in(page, "support")
    page.goto(f"/support/disputes/{case.id}")
    header = page.locator("#liable-if-lost")
    chosen = page.get_by_label("If lost, who pays")
    expect(header).to_contain_text("the seller pays")
    expect(chosen).to_have_value(header.get_attribute("data-liable"))
    truth.fits(page)

    # (8) evidence: sending is not pre-ticked, and a shipping date must be a date.
    submit_now = page.get_by_label("Submit to the PSP now (no changes afterwards)")
    expect(submit_now).not_to_be_checked()
    page.get_by_label("Shipping carrier").fill("DHL")
    page.get_by_label("Shipping date").fill("not a date")
    page.get_by_role("button", name="Send evidence").click()
    date_field = page.get_by_label("Shipping date")
    error_id = f"{date_field.get_attribute('id')}-error"
    expect(date_field).to_have_attribute("aria-describedby", re.compile(error_id))
    expect(page.locator(f"#{error_id}")).to_contain_text("YYYY-MM-DD")
    assert truth.fresh().get(type(case), case.id).status == "needs_response"
    page.get_by_label("Shipping date").fill("2026-12-01")
    page.get_by_label("Submit to the PSP now (no changes afterwards)").check()
    page.get_by_role("button", name="Send evidence").click()
    expect(page.locator(".flash-success")).to_have_text("Evidence sent to the PSP.")

    closed = psp_call(stack["psp_url"], "POST",
                      f"/v1/test_helpers/disputes/{case.psp_reference}/close", {"outcome": "lost"})
    assert closed.status_code == 200, closed.text
    case_for(order_id, "chargeback", lambda c: c.status == "lost")
    wait_for(lambda: truth.statuses(order_id)[0], lambda s: s == "charged_back")

    # (1) a charged-back line is not to ship, and its fees row shows nothing to receive.
    mug = truth.holds(order_id)["Mug"]
    log_in(page, "seller")
    assert truth.seller_escrow_agrees(page, shop["seller"]) == 0
    expect(page.locator(f'#to-ship li[data-hold="{mug.id}"]')).to_have_count(0)
    assert truth.fees_row(page, order_id) == truth.expected_fees(mug)
    # (3) the buyer reads "charged back".
    log_in(page, "buyer")
    assert truth.status_badge(page, order_id) == "charged back"
    assert lines_of(page, order_id) == {"Mug": "€0.00"}
    ledger_check_passes(stack)
