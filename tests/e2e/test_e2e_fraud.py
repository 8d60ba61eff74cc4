"""Fraud review in Chromium: a buyer pays with a card the PSP rates elevated, support approves
it from the review queue (captured at the sandbox) or rejects it (voided at the sandbox); a
blocklisted buyer and a card the PSP rates highest each get the same calm message.

The sandbox's own record of each session is the judge of what happened to the money.
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.steps import check_out, continue_to_payment, log_in, pay_with, wait_for

pytestmark = pytest.mark.e2e

ELEVATED = "4000 0000 0000 9235"
HIGHEST = "4000 0000 0000 4954"
CALM = "We could not accept this payment. Nothing has been charged."
SETTLE_S = 30.0


def payment_of(order_id: int, until=lambda p: p is not None):
    from tests.flows import latest_payment

    return wait_for(lambda: latest_payment(order_id), until, timeout=SETTLE_S)


def buyer_pays_into_review(page, cards: set) -> int:
    """The buyer checks out a mug and pays hosted with the elevated-risk card: held."""
    log_in(page, "buyer")
    order_id = check_out(page, "Mug")
    continue_to_payment(page, "Hosted payment page")
    pay_with(page, ELEVATED, cards)
    expect(page).to_have_url(re.compile(rf"/checkout/{order_id}/return"))
    expect(page.locator("#payment-in-review")).to_be_visible(timeout=SETTLE_S * 1000)
    payment = payment_of(order_id, lambda p: p.review_status == "pending")
    assert payment.status == "authorized"
    return order_id


def support_opens_the_review(page, payment) -> None:
    """Support finds the payment in the queue and opens it: reasons and linked accounts."""
    log_in(page, "support")
    page.get_by_role("link", name="Fraud reviews").click()
    row = page.locator(f'tr[data-payment="{payment.id}"]')
    expect(row).to_contain_text("The PSP rates the payment's risk elevated")
    row.get_by_role("link", name=f"#{payment.id}").click()
    expect(page.locator("#review-reasons")).to_contain_text("risk elevated")
    expect(page.locator("#review-facts")).to_contain_text("PSP risk elevated")
    expect(page.get_by_role("heading", name="Linked accounts")).to_be_visible()


def test_review_approved_is_captured_at_the_sandbox(page, shop, topology, journey):
    order_id = buyer_pays_into_review(page, journey)
    payment = payment_of(order_id)
    sandbox = topology[payment.provider]
    assert sandbox.session(payment.psp_reference)["status"] == "authorized"  # held, not taken

    support_opens_the_review(page, payment)
    page.get_by_role("button", name="Approve and capture").click()
    expect(page.locator(".flash-success")).to_contain_text("approved: captured")
    expect(page.locator(f'tr[data-payment="{payment.id}"]')).to_have_count(0)

    captured = sandbox.session(payment.psp_reference)
    assert (captured["status"], captured["amount_captured"]) == ("captured", 2400)
    payment = payment_of(order_id, lambda p: p.status == "captured")
    assert (payment.review_status, payment.reviewed_by) == ("approved", "support@test.example")

    log_in(page, "buyer")
    page.goto(f"/checkout/{order_id}/return")
    expect(page.get_by_text("Payment received.")).to_be_visible()


def test_review_rejected_is_voided_at_the_sandbox(page, shop, topology, journey):
    from app.extensions import db
    from app.models import Item

    order_id = buyer_pays_into_review(page, journey)
    payment = payment_of(order_id)
    sandbox = topology[payment.provider]

    support_opens_the_review(page, payment)
    page.get_by_label("Confirmed fraud").check()
    page.get_by_role("button", name="Reject and void").click()
    expect(page.locator(".flash-success")).to_contain_text("rejected")

    voided = sandbox.session(payment.psp_reference)
    assert (voided["status"], voided["amount_captured"]) == ("canceled", 0)
    payment = payment_of(order_id, lambda p: p.status == "cancelled")
    assert payment.review_status == "rejected"
    db.session.rollback()
    assert db.session.get(Item, shop["mug"]).stock == 10  # back in the shop

    page.get_by_role("link", name="Fraud lists").click()
    expect(page.locator("#fraud-list-entries")).to_contain_text("confirmed fraud")

    log_in(page, "buyer")
    page.goto(f"/checkout/{order_id}/return")
    expect(page.locator("#payment-not-accepted")).to_contain_text(CALM)


def test_blocked_buyers_see_a_calm_message(page, shop, topology, journey):
    # Support blocklists the buyer's email on the lists page.
    log_in(page, "support")
    page.get_by_role("link", name="Fraud lists").click()
    page.get_by_label("List").select_option("block")
    page.get_by_label("Kind").select_option("email")
    page.get_by_label("Value").fill("buyer@test.example")
    page.get_by_label("Reason").fill("stolen cards reported")
    page.get_by_role("button", name="Add").click()
    expect(page.locator(".flash-success")).to_have_text("Added to the list.")

    log_in(page, "buyer")
    order_id = check_out(page, "Mug")
    continue_to_payment(page, "Hosted payment page")
    expect(page).to_have_url(re.compile(rf"/checkout/{order_id}/return"))
    message = page.locator("#payment-not-accepted")
    expect(message).to_contain_text(CALM)
    expect(message).not_to_contain_text("list")
    payment = payment_of(order_id)
    assert payment.psp_reference is None  # the PSP never saw it
    assert payment.fraud_decision == "block"


def test_the_psps_highest_risk_is_voided_and_the_buyer_told_calmly(page, shop, topology,
                                                                     journey):
    log_in(page, "buyer")
    order_id = check_out(page, "Candle")
    continue_to_payment(page, "Hosted payment page")
    pay_with(page, HIGHEST, journey)
    expect(page.locator("#payment-not-accepted")).to_contain_text(CALM,
                                                                   timeout=SETTLE_S * 1000)
    payment = payment_of(order_id, lambda p: p.status == "cancelled")
    assert topology[payment.provider].session(payment.psp_reference)["status"] == "canceled"
