"""Dead letters in Chromium: a buyer pays (live worker, real webhooks); the 'authorized' event's
inbox row is then found failed (as after a crash that the capture path outran). Support opens
the dead-letter page, reads the error and the redacted payload, runs the dry run (htmx), which
says nothing would change, replays it, and the live worker settles it: the payment and the
PSP's single capture are untouched, and the page is empty again."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.steps import (
    check_out,
    continue_to_payment,
    expect_paid,
    log_in,
    pay_with,
    wait_for,
)

pytestmark = pytest.mark.e2e

VISA = "4242 4242 4242 4242"


def fail_the_authorized_event(order_id: int) -> int:
    """Mark the payment's processed 'authorized' event failed, as a dead letter; its id."""
    from sqlalchemy import select

    from app.extensions import db
    from app.models import Payment, WebhookEvent

    payment = wait_for(lambda: db.session.execute(select(Payment).where(
        Payment.order_id == order_id)).scalar_one(), lambda p: p.status == "captured")
    row = wait_for(lambda: db.session.execute(select(WebhookEvent).where(
        WebhookEvent.object_id == payment.psp_reference,
        WebhookEvent.event_type == "payment_session.authorized")).scalar_one_or_none(),
        lambda r: r is not None and r.status == "processed")
    from app.database import locked, unit_of_work

    with unit_of_work():  # a write transaction from the start (BEGIN IMMEDIATE on SQLite)
        failed = locked(WebhookEvent, row.id)
        failed.status, failed.attempts = "failed", 6
        failed.last_error = "OperationalError: the database was restarting"
    return row.id


def test_support_replays_a_dead_letter_after_a_dry_run(page, shop, stack, journey):
    from app.extensions import db
    from app.models import Payment, WebhookEvent
    from tests.flows import psp_call

    log_in(page, "buyer")
    order_id = check_out(page, "Mug")
    continue_to_payment(page, "Hosted payment page")
    pay_with(page, VISA, journey)
    expect_paid(page, order_id)
    event_id = fail_the_authorized_event(order_id)

    log_in(page, "support")
    page.get_by_role("link", name="Dead letters").click()
    row = page.locator(f'tr[data-event="{event_id}"]')
    expect(row).to_contain_text("the database was restarting")
    expect(row.locator("td").nth(5)).to_have_text("6")
    row.get_by_text("show").click()
    payload = row.locator("pre.payload")
    expect(payload).to_be_visible()
    expect(payload).not_to_contain_text(VISA.replace(" ", ""))

    row.get_by_role("link", name="Dry run").click()  # htmx: the preview lands on this page
    preview = page.locator("#dry-run")
    expect(preview).to_contain_text("none: already as the PSP reports")
    expect(page).to_have_url(stack["url"] + "/support/dead-letters")
    preview.get_by_role("button", name="Replay 1 event(s)").click()
    expect(page.get_by_text("1 event(s) queued for processing again.")).to_be_visible()

    wait_for(lambda: db.session.get(WebhookEvent, event_id).status,
             lambda status: status == "processed")
    page.reload()
    expect(page.locator("#failed-events")).to_contain_text("No failed events.")
    payment = db.session.query(Payment).filter_by(order_id=order_id).one()
    assert payment.status == "captured"
    counts = psp_call(stack["psp_url"], "GET", "/v1/_stats").json()["executions"]
    assert counts[f"{payment.idempotency_key}:capture"] == 1
