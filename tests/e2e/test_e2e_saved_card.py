"""A returning buyer in Chromium: save the card while paying, pay the next order with it, remove it.

The card is typed once, on the PSP's hosted page; the platform only ever holds the PSP's token
(sealed in the vault), and the card-data scan that runs after the journeys checks that.
"""
from __future__ import annotations

import datetime
import re
import time

import pytest
from playwright.sync_api import expect

from tests.e2e.steps import EXPIRY, VISA, check_out, expect_paid, log_in

pytestmark = pytest.mark.e2e

EXPIRY_YEAR = (datetime.date.today().year + 5) % 100


def wait_for_saved_card(buyer_id: int, timeout: float = 15.0) -> list:
    """The vault learns the card from the webhook the live worker processes."""
    from app.extensions import db
    from app.services.payments import vault

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.rollback()
        methods = vault.list_methods(buyer_id)
        if methods:
            return methods
        time.sleep(0.1)
    return []


def test_save_the_card_then_pay_with_it_then_remove_it(page, shop, stack, journey):
    log_in(page)
    first = check_out(page, "Mug")
    page.get_by_label("Hosted payment page").check()
    page.get_by_label("Save my card for next time").check()
    page.get_by_role("button", name=re.compile(r"^Continue to payment")).click()
    expect(page).to_have_url(re.compile(re.escape(stack["psp_url"]) + r"/pay/ps_"))
    journey.add(VISA)
    page.get_by_label("Card number").fill(VISA)
    page.get_by_label("Expiry").fill(EXPIRY)
    page.get_by_label("CVC").fill("123")
    page.get_by_label("Name on card").fill("Ada Buyer")
    page.get_by_role("button", name=re.compile(r"^Pay")).click()
    expect_paid(page, first)
    assert [m.label for m in wait_for_saved_card(shop["buyer"])] == [
        f"Visa •••• 4242 (12/{EXPIRY_YEAR:02d})"]

    # The next order: no card typed, the saved one pays.
    second = check_out(page, "Candle")
    saved = page.get_by_label(f"Saved card: Visa •••• 4242 (12/{EXPIRY_YEAR:02d})")
    expect(saved).to_be_visible()
    saved.check()
    page.get_by_role("button", name=re.compile(r"^Continue to payment")).click()
    expect_paid(page, second)

    page.goto("/checkout/saved-cards")
    page.get_by_role("button", name=f"Remove Visa •••• 4242 (12/{EXPIRY_YEAR:02d})").click()
    expect(page.get_by_text("Saved card removed.")).to_be_visible()
    expect(page.get_by_text("You have no saved cards.")).to_be_visible()
