"""Marketplace money in Chromium: one order, two sellers, escrow, receipt, payout paid or failed.

The buyer pays on the PSP's hosted page; each seller watches their own share on the dashboard;
the live worker sends the payout and the sandbox's bank settles it after SANDBOX_PAYOUT_DELAY
(its default 2 s: the submit job stores the PSP's payout id well before the webhook comes).
"""
from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.steps import (
    PASSWORD,
    VISA,
    check_out,
    confirm_dialog,
    continue_to_payment,
    expect_asked,
    log_in,
    pay_with,
)

pytestmark = pytest.mark.e2e

GOOD_IBAN = "DE89370400440532013000"
CLOSED_IBAN = "DE62370400440532013001"
SETTLE_MS = 25_000
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "img" / "seller-dashboard.png"


def buyer_pays_mug_and_candle(page, cards: set) -> int:
    """The buyer checks out a mug (seller) and a candle (other seller), pays hosted with 4242."""
    log_in(page, "buyer")
    order_id = check_out(page, "Mug", "Candle")
    continue_to_payment(page, "Hosted payment page")
    pay_with(page, VISA, cards)
    expect(page.get_by_text("Payment received.")).to_be_visible(timeout=15_000)
    wait_for_holds(order_id)
    return order_id


def wait_for_holds(order_id: int, timeout: float = 15.0) -> None:
    """Escrow exists once the capture's webhook has gone through the worker."""
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models import EscrowHold

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.rollback()
        if db.session.scalar(select(func.count()).select_from(EscrowHold)
                             .where(EscrowHold.order_id == order_id)) == 2:
            return
        time.sleep(0.1)
    raise AssertionError(f"order {order_id} was never captured into escrow")


def stat(page, kind: str, currency: str = "EUR"):
    """One balance figure on the seller's dashboard."""
    return page.locator(f'#balances [data-currency="{currency}"] [data-kind="{kind}"] dd')


def add_bank_account(page, iban: str) -> None:
    """The seller registers a payout IBAN on the bank-account page."""
    page.goto("/seller/bank-account")
    page.get_by_label("Account holder").fill("Test Seller")
    page.get_by_label("IBAN").fill(iban)
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_role("button", name="Save bank account").click()
    expect(page.get_by_text(f"•••• {iban[-4:]}")).to_be_visible()


def ledger_check_passes(stack) -> None:
    """`flask ledger check` against the live database exits 0."""
    from flask import has_app_context

    from app.extensions import db

    # As in its own process: no rows this test already loaded (on PostgreSQL a payout read
    # before its return would stay "paid" in the session while its postings are read fresh).
    if has_app_context():
        db.session.remove()
    result = stack["app"].test_cli_runner().invoke(args=["ledger", "check"])
    assert result.exit_code == 0, result.output


def keep_screenshot(png: bytes) -> None:
    """Write the README picture only when asked to, or when it is missing (CI never churns)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("HOLDFAST_SCREENSHOTS") == "1" or not SCREENSHOT.exists():
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        SCREENSHOT.write_bytes(png)


def test_confirmed_line_is_released_and_paid_out(page, shop, stack, journey):
    order_id = buyer_pays_mug_and_candle(page, journey)

    log_in(page, "seller")
    page.goto("/seller")
    escrow = page.locator("#escrow")
    expect(escrow).to_contain_text(f"Mug · order #{order_id}")
    expect(escrow).to_contain_text("Held until the seller ships and the buyer confirms receipt")
    expect(escrow).not_to_contain_text("Candle")
    expect(stat(page, "escrow")).to_have_text("€24.00")
    row = page.locator("#to-ship li").filter(has_text=f"#{order_id}")
    row.get_by_label(re.compile("^Tracking reference")).fill("TRACK-123")
    row.get_by_role("button", name="Mark shipped").click()
    expect(page.locator("#to-ship")).to_contain_text("Nothing to ship.")
    # The escrow list refreshes itself (HX-Trigger: escrow-changed) with the new deadline.
    expect(escrow).to_contain_text(re.compile(
        r"Held until the buyer confirms receipt, or \d{1,2} \w+( \d{4})? at the latest"))
    expect(escrow).to_contain_text("TRACK-123")

    log_in(page, "other_seller")
    page.goto("/seller")
    expect(page.locator("#escrow")).to_contain_text(f"Candle · order #{order_id}")
    expect(stat(page, "escrow")).to_have_text("€16.90")

    log_in(page, "buyer")
    page.goto(f"/orders/{order_id}")
    delivery = page.locator("#delivery")
    expect(delivery.locator("li").filter(has_text="Mug")).to_contain_text("at the latest")
    expect(delivery.locator("li").filter(has_text="Candle")).to_contain_text(
        "Held until the seller ships")
    asked = confirm_dialog(page)
    page.get_by_role("button", name="Confirm receipt").click()
    expect_asked(page, asked, r"Confirm that Mug arrived\? The seller is paid at once")
    expect(page.get_by_text("the seller has been paid")).to_be_visible()

    log_in(page, "seller")
    page.goto("/seller")
    expect(stat(page, "available")).to_have_text("€21.60")  # 24.00 less the 10 % fee
    expect(stat(page, "escrow")).to_have_text("€0.00")
    expect(page.locator("#fees")).to_contain_text("€2.40")
    add_bank_account(page, GOOD_IBAN)
    page.goto("/seller")
    page.get_by_role("button", name="Pay out now").click()
    payouts = page.locator("#payouts")
    expect(payouts.locator("tbody tr")).to_contain_text("€21.60")
    expect(payouts.locator(".badge")).to_have_text("paid", timeout=SETTLE_MS)
    # The settled payout tells the balances to refresh (HX-Trigger: balances-changed).
    expect(stat(page, "paid_out")).to_have_text("€21.60")
    expect(stat(page, "available")).to_have_text("€0.00")
    expect(stat(page, "in_transit")).to_have_text("€0.00")
    expect(page.locator("#chart rect.bar-payouts[height]:not([height='0'])")).to_have_count(1)
    keep_screenshot(page.screenshot())
    ledger_check_passes(stack)


def test_payout_to_a_closed_account_returns_the_money(page, shop, stack, journey):
    from tests.flows import latest_payment

    order_id = buyer_pays_mug_and_candle(page, journey)
    payment_id = latest_payment(order_id).id

    log_in(page, "support")
    page.goto(f"/support/payments/{payment_id}")
    asked = confirm_dialog(page)
    page.get_by_role("button", name="Release Candle").click()
    expect_asked(page, asked, r"Release €15\.21 of Candle to Other Seller\?")
    expect(page.locator(".flash-success")).to_have_text("Released to the seller.")

    log_in(page, "other_seller")
    add_bank_account(page, CLOSED_IBAN)
    page.goto("/seller")
    expect(stat(page, "available")).to_have_text("€15.21")  # 16.90 less the 10 % fee
    page.get_by_role("button", name="Pay out now").click()
    expect(stat(page, "in_transit")).to_have_text("€15.21")
    alert = page.locator("#balances [role=alert]")
    expect(alert).to_contain_text("Your bank says this account is closed", timeout=SETTLE_MS)
    expect(alert).to_contain_text("Your payout of €15.21")
    expect(alert.get_by_role("link", name="Update bank account")).to_have_attribute(
        "href", "/seller/bank-account")
    expect(stat(page, "available")).to_have_text("€15.21")
    expect(stat(page, "in_transit")).to_have_text("€0.00")
    expect(page.locator("#payouts .badge")).to_have_text("failed")

    log_in(page, "seller")  # the other seller's failure is theirs alone
    page.goto("/seller")
    expect(page.locator("#balances [role=alert]")).to_have_count(0)
    ledger_check_passes(stack)
