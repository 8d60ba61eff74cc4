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

pytestmark = pytest.mark.e2e

VISA = "4242 4242 4242 4242"
EXPIRY_YEAR = (datetime.date.today().year + 5) % 100
EXPIRY = f"12/{EXPIRY_YEAR:02d}"
PASSWORD = "correct-horse-battery"
PAID_WAIT_MS = 15_000


@pytest.fixture
def journey(request, e2e_record):
    """Record that this journey ran (and the cards it typed) for the card-data scan."""
    started = time.monotonic()
    yield e2e_record["cards"]
    e2e_record["journeys"].append((request.node.name, round(time.monotonic() - started, 2)))


def log_in(page) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill("buyer@test.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def check_out(page, title: str) -> int:
    """Put one item in the cart and check out its EUR line; the order id."""
    page.goto("/")
    page.locator("article.item").filter(
        has=page.get_by_role("heading", name=title, exact=True)
    ).get_by_role("button", name="Add to cart").click()
    page.wait_for_url("**/cart")
    page.get_by_role("button", name="Check out EUR items").click()
    page.wait_for_url(re.compile(r"/checkout/\d+$"))
    return int(page.url.rstrip("/").rsplit("/", 1)[1])


def expect_paid(page, order_id: int) -> None:
    expect(page).to_have_url(re.compile(rf"/checkout/{order_id}/return"))
    expect(page.get_by_text("Payment received.")).to_be_visible(timeout=PAID_WAIT_MS)


def wait_for_saved_card(buyer_id: int, timeout: float = 15.0) -> list:
    """The vault learns the card from the webhook the live worker processes."""
    from app.extensions import db
    from app.services import vault

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
