"""The operator's console in Chromium (issue 15): an admin reads the dashboard, whose totals
match the ledger and the sandbox PSP's own records, and support finds a payment by the buyer's
e-mail in one search and opens its whole timeline. Every page is also checked by axe-core
(tests/e2e/watch.py)."""
from __future__ import annotations

import csv
import io
import re

import pytest
from playwright.sync_api import expect

from tests.e2e import truth
from tests.e2e.steps import log_in
from tests.e2e.test_e2e_marketplace_money import buyer_pays_mug_and_candle

pytestmark = pytest.mark.e2e


def _ledger(kind: str, event: str | None = None) -> int:
    from sqlalchemy import func, select

    from app.models import LedgerEntry, LedgerTransaction

    query = (select(func.coalesce(func.sum(LedgerEntry.amount), 0)).join(LedgerEntry.transaction)
             .where(LedgerEntry.kind == kind, LedgerEntry.currency == "EUR"))
    if event:
        query = query.where(LedgerTransaction.event == event)
    return int(truth.fresh().execute(query).scalar_one())  # PostgreSQL sums are Decimal


def _psp_session(topology, order_id: int):
    """The sandbox's own record of the order's payment: (captured, fee)."""
    from sandbox_psp.models import PaymentSession
    from sandbox_psp.models import db as psp_db
    from tests.flows import latest_payment

    truth.fresh()
    payment = latest_payment(order_id)
    psp = topology[payment.provider]
    with psp.app.app_context():
        session = psp_db.session.get(PaymentSession, payment.psp_reference)
        found = session.amount_captured, int((session.fee or {}).get("amount") or 0)
        psp_db.session.remove()
    return found


def test_admin_dashboard_totals_match_the_ledger_and_the_psp(page, shop, stack, topology,
                                                             journey):
    order_id = buyer_pays_mug_and_candle(page, journey)
    captured, fee = _psp_session(topology, order_id)
    assert captured == -_ledger("escrow", "capture") == 4090  # a mug and a candle
    assert fee == _ledger("psp_fees")

    log_in(page, "admin")
    page.get_by_role("link", name="Reports").click()
    page.get_by_label("Currency", exact=True).select_option("EUR")
    page.get_by_role("button", name="Show").click()
    expect(page.locator('[data-figure="gmv"]')).to_have_text(truth.shown(captured))
    expect(page.locator('[data-figure="psp_fees"]')).to_have_text(truth.shown(fee))
    expect(page.locator('[data-figure="escrow_held"]')).to_have_text(
        truth.shown(-_ledger("escrow")))
    # Charts are server-side SVG with a title, readable without script; each has its table.
    daily = page.locator("#report-daily svg")
    expect(daily).to_have_attribute("role", "img")
    assert daily.locator("rect.bar-gmv").count() >= 30
    expect(page.locator("#report-disputes-provider line.threshold")).to_have_count(2)
    page.locator("#report-daily summary").click()
    cells = page.locator('#report-daily table[data-table="daily"] tbody tr td:nth-child(2)')
    assert sum(round(float(c) * 100) for c in cells.all_inner_texts()) == captured
    # The CSV says the same as the page.
    href = page.locator("#report-totals a", has_text="CSV").get_attribute("href")
    answer = page.request.get(href)
    assert answer.ok and answer.headers["content-type"].startswith("text/csv")
    rows = dict(list(csv.reader(io.StringIO(answer.text())))[1:])
    assert rows["GMV (captured)"] == f"{captured / 100:.2f}"
    assert rows["PSP fees"] == f"{fee / 100:.2f}"
    # The compliance report lists this admin's own reads for an assessor.
    page.get_by_role("link", name="Compliance report").click()
    expect(page.locator("#compliance")).to_contain_text("reports.viewed")


def test_support_finds_a_payment_by_the_buyers_email_in_one_search(page, shop, stack,
                                                                   topology, journey):
    from tests.flows import latest_payment

    order_id = buyer_pays_mug_and_candle(page, journey)
    truth.fresh()
    payment = latest_payment(order_id)

    log_in(page, "support")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Find a payment").click()
    search = page.get_by_role("searchbox", name="Search")
    search.fill("buyer@test.example")
    search.press("Enter")  # from the keyboard
    result = page.get_by_role("link", name=f"Payment #{payment.id}", exact=True)
    expect(result).to_be_visible()
    expect(page.locator("#results tbody tr")).to_have_count(1)
    result.click()
    expect(page).to_have_url(re.compile(rf"/support/payments/{payment.id}$"))
    timeline = page.locator("#payment-timeline")
    for kind in ("status", "webhook", "ledger", "audit"):
        expect(timeline.locator(f'tr[data-kind="{kind}"]').first).to_be_visible()
    expect(timeline).to_contain_text("capture (EUR)")
    expect(page.locator(".facts")).to_contain_text("Visa ending 4242, expires")
