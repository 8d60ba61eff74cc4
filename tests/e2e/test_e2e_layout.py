"""Layout for people and keyboards (issue 12, "Forms and layout"), in Chromium.

A skip link and a visible focus ring; a favicon on the platform and on the sandbox's own
dashboard (its CSP allowing its icon); a navigation that folds on a phone; the seller's chart
readable at 390 px, inside its card; the payout weekday only for a weekly schedule; every input
styled (support's refund form, the audit filters); the routing editor in monospace with line
numbers; unique ids on pages with several forms; 403/404 pages that lead to the person's home.
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e import truth
from tests.e2e.steps import log_in, open_menu
from tests.e2e.test_e2e_marketplace_money import buyer_pays_mug_and_candle

pytestmark = pytest.mark.e2e

DUPLICATE_IDS = """() => { const seen = {}, twice = [];
  for (const el of document.querySelectorAll('[id]')) {
    if (seen[el.id]) twice.push(el.id); seen[el.id] = true; }
  return twice; }"""


def unique_ids(page) -> None:
    """No id is used twice on the page (labels and aria references stay unambiguous)."""
    assert page.evaluate(DUPLICATE_IDS) == [], page.url


def styled(locator) -> None:
    """An input with the platform's look: a real height, padding and a border radius."""
    box = locator.evaluate("""el => { const s = getComputedStyle(el);
        return [el.getBoundingClientRect().height, parseFloat(s.paddingLeft),
                parseFloat(s.borderTopLeftRadius)]; }""")
    assert box[0] >= 32 and box[1] >= 6 and box[2] >= 4, box


def test_keyboard_and_icon_basics(page, shop, stack):
    page.goto("/")
    expect(page.locator('link[rel="icon"]')).to_have_attribute("href", "/static/favicon.svg")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    outline = skip.evaluate("el => getComputedStyle(el).outlineStyle")
    assert outline not in ("", "none")
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    # The sandbox's own dashboard loads its icon under its own CSP (the watcher fails on either).
    page.goto(stack["psp_url"] + "/")
    expect(page.locator('link[rel="icon"]')).to_have_count(1)


@pytest.mark.allow_console(r"HTTP 403: GET .*/support/payments",
                           r"HTTP 404: GET .*/no-such-page",
                           r"Failed to load resource: .* (403|404)")
def test_seller_screens_on_a_phone(page, shop, stack, journey):
    buyer_pays_mug_and_candle(page, journey)
    page.set_viewport_size(truth.PHONE)
    log_in(page, "seller")
    page.goto("/seller")
    truth.fits(page)
    unique_ids(page)
    menu = page.get_by_role("button", name="Menu")
    expect(menu).to_be_visible()
    expect(page.get_by_role("link", name="Chargebacks")).to_be_hidden()
    open_menu(page)
    expect(page.get_by_role("link", name="Chargebacks")).to_be_visible()
    # The chart keeps a readable size and scrolls inside its card, not the page.
    text_px = page.locator("#chart svg text").first.evaluate(
        "el => el.getBoundingClientRect().height")
    assert text_px >= 9, f"chart text is {text_px:.1f} px high"
    # The weekday picker only for a weekly schedule.
    weekday = page.get_by_label("Weekday")
    expect(weekday).to_be_hidden()
    page.get_by_label("Pay out").select_option("weekly")
    expect(weekday).to_be_visible()
    page.get_by_label("Pay out").select_option("manual")
    expect(weekday).to_be_hidden()
    # The bank page links back; the category comes from a list.
    page.goto("/seller/bank-account")
    truth.fits(page)
    page.get_by_role("link", name="← Dashboard").click()
    expect(page).to_have_url(re.compile(r"/seller$"))
    page.goto("/seller/items/new")
    expect(page.get_by_label("Category")).to_have_js_property("tagName", "SELECT")
    styled(page.get_by_label("Price"))
    # A page the seller may not see, and one that does not exist, lead to the dashboard.
    for url in ("/support/payments", "/no-such-page"):
        page.goto(url)
        truth.fits(page)
        expect(page.get_by_role("link", name="Back to your dashboard")).to_have_attribute(
            "href", "/seller")


def test_staff_forms_are_styled_and_the_routing_editor_numbers_its_lines(page, shop, stack,
                                                                        journey):
    from tests.flows import latest_payment

    order_id = buyer_pays_mug_and_candle(page, journey)
    log_in(page, "admin")
    page.goto(f"/support/payments/{latest_payment(order_id).id}")
    unique_ids(page)
    styled(page.get_by_label("Amount", exact=True))
    styled(page.get_by_label("Reason (shown to the buyer and sellers)"))
    page.goto("/support/audit")
    styled(page.get_by_label("Action starts with"))
    styled(page.get_by_label("Outcome"))
    page.goto("/admin/staff")
    unique_ids(page)
    page.goto("/admin/routing")
    editor = page.get_by_label(re.compile("routing", re.I)).and_(page.locator("textarea"))
    assert "monospace" in editor.evaluate("el => getComputedStyle(el).fontFamily")
    lines = editor.input_value().count("\n") + 1
    gutter = page.locator("#text-lines")
    expect(gutter).to_contain_text("1\n2\n3")
    assert gutter.inner_text().split() == [str(n) for n in range(1, lines + 1)]
    editor.press("End")
    editor.press("Enter")
    assert gutter.inner_text().split()[-1] == str(lines + 1)
