"""Disputes in Chromium.

(a) A chargeback: the buyer pays with the sandbox's dispute card (4000 0000 0000 0259), the
    PSP opens a dispute at capture, support finds it in the dispute centre, takes it and sends
    evidence; the issuer decides it once won (the sandbox dashboard's button) and once lost (its
    test helper); the seller sees the outcome; `flask ledger check` passes.
(b) A buyer's claim: the buyer opens it, the seller contests with a photo, support previews and
    refunds half, both parties see the result, `flask ledger check` passes.

Webhooks and jobs run for real: the sandbox's deliverer and a live `flask worker`.
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.steps import check_out, continue_to_payment, log_in, pay_with, wait_for

pytestmark = pytest.mark.e2e

DISPUTE_CARD = "4000 0000 0000 0259"
SETTLE_S = 20.0
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 128


def ledger_check_passes(stack) -> None:
    """`flask ledger check` against the live database exits 0."""
    result = stack["app"].test_cli_runner().invoke(args=["ledger", "check"])
    assert result.exit_code == 0, result.output


def case_for(order_id: int, kind: str, until=lambda case: case is not None):
    """The order's case of a kind, polled until `until(case)` (webhooks are asynchronous)."""
    from sqlalchemy import select

    from app.extensions import db
    from app.models import DisputeCase

    return wait_for(lambda: db.session.execute(select(DisputeCase).where(
        DisputeCase.order_id == order_id, DisputeCase.kind == kind)).scalar_one_or_none(),
        until, timeout=SETTLE_S)


def buyer_pays_with_the_dispute_card(page, cards: set) -> int:
    """The buyer checks out a mug and pays hosted with the dispute card; the order id."""
    log_in(page, "buyer")
    order_id = check_out(page, "Mug")
    continue_to_payment(page, "Hosted payment page")
    pay_with(page, DISPUTE_CARD, cards)
    expect(page.get_by_text("Payment received.")).to_be_visible(timeout=15_000)
    return order_id


def support_sends_evidence(page, case_id: int) -> None:
    """Support finds the chargeback in the queue, takes it, and sends tracking evidence."""
    log_in(page, "support")
    page.get_by_role("link", name="Disputes").click()
    row = page.locator(f'tr[data-case="{case_id}"]')
    expect(row).to_contain_text("chargeback")
    expect(row).to_contain_text("needs response")
    expect(row).to_contain_text(re.compile(r"due in 6 d \d{1,2} h"))
    row.get_by_role("link", name=f"Case #{case_id}").click()
    expect(page.locator(".timeline")).to_contain_text("Disputed amount and PSP fee reserved")
    page.get_by_role("button", name="Assign to me").click()
    expect(page.locator(".flash-success")).to_have_text("Case assigned.")
    page.get_by_label("Internal note").fill("Mug shipped with DHL, signed for.")
    page.get_by_role("button", name="Add note").click()
    page.get_by_label("Shipping carrier").fill("DHL")
    page.get_by_label("Tracking number").fill("JD014600006281")
    submit_now = page.get_by_label("Submit to the PSP now (no changes afterwards)")
    expect(submit_now).not_to_be_checked()  # sending is final: never the default
    submit_now.check()
    page.get_by_role("button", name="Send evidence").click()
    expect(page.locator(".flash-success")).to_have_text("Evidence sent to the PSP.")
    expect(page.locator("h1 .badge")).to_have_text("under review")
    timeline = page.locator(".timeline")
    expect(timeline).to_contain_text("shipping tracking number: JD014600006281")
    expect(timeline.locator(".event-note.internal")).to_contain_text("signed for")


def test_chargeback_with_evidence_won_on_the_dashboard(page, shop, stack, journey):
    order_id = buyer_pays_with_the_dispute_card(page, journey)
    case = case_for(order_id, "chargeback")
    assert case is not None, "the dispute's webhook never made a case"
    support_sends_evidence(page, case.id)

    # The issuer decides on the sandbox's own dashboard.
    page.goto(stack["psp_url"] + "/")
    # The disputes table: the dispute's id also shows among the balance transactions.
    row = page.locator("#disputes tr").filter(
        has=page.locator("code", has_text=case.psp_reference))
    expect(row).to_contain_text("under_review")
    row.get_by_role("button", name="Mark won").click()
    expect(page.locator("#disputes tr").filter(
        has=page.locator("code", has_text=case.psp_reference))).to_contain_text("won")
    assert case_for(order_id, "chargeback", lambda c: c.status == "won").status == "won"

    log_in(page, "support")
    page.goto(f"/support/disputes/{case.id}")
    expect(page.locator("h1 .badge")).to_have_text("won")
    expect(page.locator(".timeline")).to_contain_text("Chargeback won")
    log_in(page, "seller")
    page.goto("/seller/chargebacks")
    expect(page.locator("tbody tr").filter(has_text=f"#{order_id}")).to_contain_text("won")
    page.goto("/seller")
    expect(page.locator('#balances [data-currency="EUR"] [data-kind="escrow"] dd')
           ).to_have_text("€24.00")  # held again, on its normal course
    ledger_check_passes(stack)


def test_chargeback_lost_is_borne_by_the_seller(page, shop, stack, journey):
    from tests.flows import psp_call

    order_id = buyer_pays_with_the_dispute_card(page, journey)
    case = case_for(order_id, "chargeback")
    assert case is not None, "the dispute's webhook never made a case"
    support_sends_evidence(page, case.id)
    closed = psp_call(stack["psp_url"], "POST",
                      f"/v1/test_helpers/disputes/{case.psp_reference}/close",
                      {"outcome": "lost"})
    assert closed.status_code == 200, closed.text
    lost = case_for(order_id, "chargeback", lambda c: c.status == "lost")
    assert (lost.status, lost.liable) == ("lost", "seller")

    page.reload()
    expect(page.locator("h1 .badge")).to_have_text("lost")
    expect(page.locator(".timeline")).to_contain_text("Chargeback lost: booked to the seller")
    page.goto("/support/disputes?state=closed&kind=chargeback")
    expect(page.locator(f'tr[data-case="{case.id}"]')).to_contain_text("closed")

    log_in(page, "seller")
    page.goto(f"/seller/chargebacks/{case.id}")
    expect(page.locator(".facts")).to_contain_text("lost · borne by the seller")
    expect(page.get_by_role("button", name="Send evidence")).to_have_count(0)
    expect(page.locator(".timeline")).not_to_contain_text("signed for")  # support's note
    ledger_check_passes(stack)


def test_claim_contested_then_support_refunds_half(page, shop, stack, journey, tmp_path):
    from tests.e2e.steps import VISA
    from tests.e2e.test_e2e_marketplace_money import wait_for_holds

    log_in(page, "buyer")
    order_id = check_out(page, "Mug", "Candle")
    continue_to_payment(page, "Hosted payment page")
    pay_with(page, VISA, journey)
    expect(page.get_by_text("Payment received.")).to_be_visible(timeout=15_000)
    wait_for_holds(order_id)

    # The buyer opens a claim on the mug from the order page.
    page.goto(f"/orders/{order_id}")
    page.get_by_role("link", name="Open a claim about Mug").click()
    page.get_by_label("The item is not as described").check()
    page.get_by_label(re.compile("^Message")).fill("The mug arrived cracked.")
    page.get_by_role("button", name="Open the claim").click()
    expect(page.locator("#claim")).to_have_attribute("data-status", "open")
    claim = case_for(order_id, "claim")
    assert claim is not None

    # The seller contests it with a photo.
    photo = tmp_path / "packing-photo.png"
    photo.write_bytes(PNG)
    log_in(page, "seller")
    page.goto(f"/claims/{claim.id}")
    page.get_by_label("Why you disagree").fill("It left here intact, see the packing photo.")
    page.locator("#contest-files").set_input_files(str(photo))
    page.get_by_role("button", name="Contest the claim").click()
    expect(page.locator("#claim")).to_have_attribute("data-status", "contested")

    # Support previews half back to the buyer, then confirms.
    log_in(page, "support")
    page.get_by_role("link", name="Disputes").click()
    page.get_by_label("Kind").select_option("claim")
    page.get_by_role("button", name="Filter").click()
    page.locator(f'tr[data-case="{claim.id}"]').get_by_role(
        "link", name=f"Case #{claim.id}").click()
    timeline = page.locator(".timeline")
    expect(timeline).to_contain_text("It left here intact")
    expect(timeline.get_by_role("link", name="packing-photo.png")).to_be_visible()
    page.get_by_label("Refund part").check()
    page.get_by_label("Refund to the buyer").fill("12.00")
    page.get_by_role("button", name="Preview").click()
    preview = page.locator("#preview")
    expect(preview.locator('[data-kind="buyer_refund"]')).to_have_text("€12.00")
    expect(preview.locator('[data-kind="from_escrow"]')).to_have_text("€12.00")
    expect(preview.locator('[data-kind="fee_returned"]')).to_have_text("€1.20")
    expect(preview.locator('[data-kind="clawback_balance"]')).to_have_text("€0.00")
    page.get_by_role("button", name="Confirm: refund part").click()
    expect(page.locator(".flash-success")).to_have_text("Decision applied.")
    expect(page.locator("h1 .badge")).to_have_text("resolved")
    resolved = case_for(order_id, "claim", lambda c: c.status == "resolved")
    assert resolved.resolution == "refund_partial"
    from tests.flows import latest_payment

    refunded = wait_for(lambda: latest_payment(order_id),
                        lambda p: p.amount_refunded == 1200, timeout=SETTLE_S)
    assert (refunded.status, refunded.amount_refunded) == ("partially_refunded", 1200)

    # Both parties see the result.
    for who in ("buyer", "seller"):
        log_in(page, who)
        page.goto(f"/claims/{claim.id}")
        expect(page.locator("#claim")).to_contain_text("Resolved: refund partial")
    ledger_check_passes(stack)
