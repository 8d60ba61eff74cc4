"""Per-shipment capture in Chromium: a buyer pays a two-seller order (authorized only), seller A
ships in the dashboard and only A's line is captured at the sandbox (a partial capture it
lists), then the periodic owner, driven past the deadline, voids B's share: B's line is
cancelled on the buyer's and B's screens, and the sandbox shows one capture and nothing left."""
from __future__ import annotations

import os
import re

import pytest
from playwright.sync_api import expect

from tests.e2e.steps import VISA, check_out, continue_to_payment, log_in, pay_with, wait_for

pytestmark = pytest.mark.e2e
DAY = 24 * 3600


@pytest.fixture(scope="module")
def per_shipment(stack):
    """The policy for this module's platform and its worker (started after, from the
    environment); restored afterwards, since the suite's other journeys capture at once."""
    app = stack["app"]
    saved_env, saved = os.environ.get("CAPTURE_POLICY"), app.config["CAPTURE_POLICY"]
    os.environ["CAPTURE_POLICY"] = app.config["CAPTURE_POLICY"] = "per_shipment"
    yield
    app.config["CAPTURE_POLICY"] = saved
    if saved_env is None:
        os.environ.pop("CAPTURE_POLICY", None)
    else:
        os.environ["CAPTURE_POLICY"] = saved_env


@pytest.fixture(scope="module")
def live_worker(per_shipment, live_worker):
    """The suite's worker, started once the policy is in force."""
    return live_worker


def _at_psp(topology, payment) -> dict:
    """The payment as the sandbox instance it was routed to records it."""
    return topology[payment.provider].session(payment.psp_reference)


def test_two_sellers_captured_per_shipment_and_the_rest_voided(page, shop, stack, topology,
                                                              journey, platform_clock):
    from app.jobs import payments as payment_jobs
    from app.services.payments import captures
    from tests.flows import latest_payment

    log_in(page, "buyer")
    order_id = check_out(page, "Mug", "Candle")
    continue_to_payment(page, "Hosted payment page")
    pay_with(page, VISA, journey)
    expect(page.get_by_text("Payment received.")).to_be_visible(timeout=15_000)

    # Checkout authorized the whole order and captured nothing.
    payment = wait_for(lambda: latest_payment(order_id),
                       lambda p: p.status == "authorized" and captures.lines_of(p.id))
    at_psp = _at_psp(topology, payment)
    assert (at_psp["status"], at_psp["amount_authorized"], at_psp["captures"]) == (
        "authorized", 4090, [])
    page.goto(f"/orders/{order_id}")
    expect(page.locator("#fulfilment [data-line-authorized]")).to_have_count(2)

    # Seller A ships the mug from the dashboard: only the mug is charged.
    log_in(page, "seller")
    page.goto("/seller")
    row = page.locator("#to-ship li[data-authorized-line]").filter(has_text=f"#{order_id}")
    expect(row).to_contain_text("charged when you ship")
    row.get_by_label(re.compile("^Carrier")).select_option("DHL")
    row.get_by_label(re.compile("^Tracking reference")).fill("JD014600006281")
    row.get_by_role("button", name="Mark shipped").click()
    expect(page.locator("#to-ship")).to_contain_text("Marked as shipped")
    payment = wait_for(lambda: latest_payment(order_id),
                       lambda p: p.status == "partially_captured")
    at_psp = _at_psp(topology, payment)
    assert at_psp["status"] == "partially_captured" and at_psp["amount_capturable"] == 1690
    assert [(c["amount"], c["final_capture"]) for c in at_psp["captures"]] == [(2400, False)]
    assert payment.amount_captured == 2400
    page.reload()
    expect(page.locator("#to-ship")).to_contain_text("On their way")
    expect(page.locator("#to-ship [data-authorized-line]")).to_have_count(0)

    # Seller B sees the candle to ship, with its deadline; B never ships it.
    log_in(page, "other_seller")
    page.goto("/seller")
    expect(page.locator("#to-ship li[data-authorized-line]").filter(
        has_text=f"#{order_id}")).to_contain_text("or the line is cancelled")

    # Past the deadline the periodic owner captures nothing more and voids the rest.
    platform_clock.advance(6 * DAY)
    assert payment_jobs.void_uncaptured() == {"voided": 1, "captured": 0}
    at_psp = _at_psp(topology, payment)
    assert (at_psp["status"], at_psp["amount_captured"], at_psp["amount_capturable"]) == (
        "captured", 2400, 0)
    assert len(at_psp["captures"]) == 1
    assert latest_payment(order_id).status == "captured"

    log_in(page, "other_seller")
    page.goto("/seller")
    expect(page.locator("#to-ship [data-voided-line]")).to_contain_text(
        f"Candle × 1 · order #{order_id}: cancelled")
    expect(page.locator("#to-ship [data-authorized-line]")).to_have_count(0)

    log_in(page, "buyer")
    page.goto(f"/orders/{order_id}")
    expect(page.locator("#fulfilment [data-line-voided]")).to_contain_text(
        "Cancelled (it was not shipped in time). Your card was not charged for it")
    expect(page.locator("#fulfilment [data-line-charged]")).to_have_count(1)
    result = stack["app"].test_cli_runner().invoke(args=["ledger", "check"])
    assert result.exit_code == 0, result.output
