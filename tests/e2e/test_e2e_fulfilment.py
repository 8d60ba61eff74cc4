"""Fulfilment in Chromium (issue 17): a digital item's key shown the moment the payment is
captured and revoked by a refund (the money checked against the sandbox's own records); a
physical item shipped to a saved address, with carrier and tracking the buyer sees."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e import truth
from tests.e2e.steps import VISA, check_out, continue_to_payment, log_in, pay_with, wait_for

pytestmark = pytest.mark.e2e
SETTLE_MS = 25_000


def _sandbox_session(stack, psp_reference: str) -> dict:
    """The payment as the sandbox PSP itself records it."""
    from tests.flows import psp_call

    return psp_call(stack["psp_url"], "GET", f"/v1/payment_sessions/{psp_reference}").json()


def test_digital_key_at_once_then_refund_revokes_it(page, shop, stack, journey):
    from tests.flows import latest_payment
    from tests.services.shop.fulfil_steps import digital_item

    digital_item(shop, "licence_key", keys=3, title="Gem pack")
    log_in(page, "buyer")
    order_id = check_out(page, "Gem pack")
    expect(page.locator("#ship-to")).to_have_count(0)  # nothing to ship, no address asked
    continue_to_payment(page, "Hosted payment page")
    pay_with(page, VISA, journey)
    expect(page.get_by_text("Payment received.")).to_be_visible(timeout=15_000)

    # The key is on the order page as soon as the capture went through: no shipping step.
    wait_for(lambda: truth.holds(order_id).get("Gem pack"), lambda h: h is not None)
    page.goto(f"/orders/{order_id}")
    key = page.locator("#fulfilment [data-key]")
    expect(key).to_have_text("KEY-0000", timeout=SETTLE_MS)
    expect(page.locator("h1 .badge")).to_have_text("delivered")
    payment = latest_payment(order_id)
    at_psp = _sandbox_session(stack, payment.psp_reference)
    assert (at_psp["amount_captured"], at_psp["amount_refunded"]) == (999, 0)
    hold = truth.holds(order_id)["Gem pack"]
    assert (hold.status, hold.released_by) == ("released", "digital")  # seller paid at once

    # Support refunds it in full; the key is revoked and the buyer is told on the page.
    log_in(page, "support")
    page.goto(f"/support/payments/{payment.id}")
    page.get_by_label(re.compile(r"^Gem pack × 1")).fill("9.99")
    page.get_by_label("Reason (shown to the buyer and sellers)").fill("Key did not activate.")
    page.get_by_role("button", name="Preview refund").click()
    page.get_by_role("button", name="Confirm refund of €9.99").click()
    wait_for(lambda: truth.holds(order_id)["Gem pack"].status, lambda s: s == "refunded")

    log_in(page, "buyer")
    page.goto(f"/orders/{order_id}")
    expect(page.locator("#fulfilment [data-revoked]")).to_contain_text(
        "Revoked: this item was refunded. The key no longer works.")
    expect(page.locator("#fulfilment [data-key]")).to_have_count(0)
    at_psp = _sandbox_session(stack, payment.psp_reference)
    assert (at_psp["amount_captured"], at_psp["amount_refunded"]) == (999, 999)
    assert latest_payment(order_id).amount_refunded == 999
    result = stack["app"].test_cli_runner().invoke(args=["ledger", "check"])
    assert result.exit_code == 0, result.output


# The refused postcode answers 400 with the error next to its field, as a form error should.
@pytest.mark.allow_console(r"400\b.*/account/addresses$|400 \(BAD REQUEST\) \(\S+/account/addresses\)")
def test_physical_item_ships_to_a_saved_address_with_tracking(page, shop, stack, journey):
    log_in(page, "buyer")
    page.goto("/account/addresses")
    page.get_by_label("Full name").fill("Zoé Martin")
    page.get_by_label("Street address").fill("5 rue de Rivoli")
    page.get_by_label("Postcode").fill("7500")
    page.get_by_label("City").fill("Paris")
    page.get_by_label("Country").select_option("FR")
    page.get_by_role("button", name="Save address").click()
    expect(page.locator("#postal_code-error")).to_contain_text("not a postcode of France")
    page.get_by_label("Postcode").fill("75001")
    page.get_by_role("button", name="Save address").click()
    expect(page.locator("#addresses")).to_contain_text("5 rue de Rivoli, 75001 PARIS, FR")

    order_id = check_out(page, "Mug")
    page.locator("#ship-to label").filter(has_text="rue de Rivoli").click()
    continue_to_payment(page, "Hosted payment page")
    pay_with(page, VISA, journey)
    expect(page.get_by_text("Payment received.")).to_be_visible(timeout=15_000)
    wait_for(lambda: truth.holds(order_id).get("Mug"), lambda h: h is not None)

    log_in(page, "seller")
    page.goto("/seller")
    row = page.locator("#to-ship li").filter(has_text=f"#{order_id}")
    expect(row.locator("[data-ship-to]")).to_contain_text("Zoé Martin, 5 rue de Rivoli, "
                                                          "75001 PARIS, FR")
    row.get_by_label(re.compile("^Carrier")).select_option("DHL")
    row.get_by_label(re.compile("^Tracking reference")).fill("JD014600006281")
    row.get_by_role("button", name="Mark shipped").click()
    expect(page.locator("#to-ship")).to_contain_text("On their way")

    log_in(page, "buyer")
    page.goto(f"/orders/{order_id}")
    expect(page.locator("#fulfilment")).to_contain_text("Shipped with DHL")
    expect(page.locator("#fulfilment [data-tracking]")).to_have_text("JD014600006281")
    expect(page.locator("[data-ship-to]")).to_contain_text("5 rue de Rivoli")
    expect(page.locator("h1 .badge")).to_have_text("shipped")
