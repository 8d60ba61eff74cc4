"""Card fields on our own page in Chromium (mode "fields", SAQ A-EP): the PSP's script mounts
its number, expiry and CVC frames in our form; the buyer pays with a Visa, with a 3-D Secure
card, and sees a decline next to the fields; the money is checked against the sandbox's own
records, and no card data is in our page's DOM, storage or requests (the card-data scan after
the journeys covers the database, Redis and logs)."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.steps import (
    VISA,
    check_out,
    continue_to_payment,
    expect_paid,
    log_in,
    type_into_card_fields,
    wait_for,
)

pytestmark = pytest.mark.e2e

DECLINED = "4000 0000 0000 0002"
THREE_DS = "4000 0027 6000 3184"
MODE = "Card form on this page"


def sandbox_session(stack, reference: str) -> dict:
    from tests.flows import psp_call

    return psp_call(stack["psp_url"], "GET", f"/v1/payment_sessions/{reference}").json()


def test_a_typo_is_shown_next_to_its_field_before_anything_is_sent(page, shop, journey):
    log_in(page)
    check_out(page, "Mug")
    continue_to_payment(page, MODE)
    journey.add("4242 4242 4242 4241")
    number = page.frame_locator("#field-number iframe").get_by_label("Card number")
    number.fill("4242 4242 4242 4241")
    page.frame_locator("#field-expiry iframe").get_by_label("Expiry date").click()
    expect(page.locator("#error-number")).to_have_text("Your card number is incorrect.")
    expect(page.locator("#field-number")).to_have_class(re.compile("invalid"))
    page.get_by_role("button", name=re.compile(r"^Pay")).click()
    expect(page.locator("#error-number")).to_have_text("Your card number is incorrect.")
    expect(page).to_have_url(re.compile(r"/fields$"))


def test_card_fields_pay_with_a_visa(page, shop, stack, journey):
    from tests.flows import latest_payment

    log_in(page)
    order_id = check_out(page, "Mug", "Candle")
    continue_to_payment(page, MODE)
    expect(page).to_have_url(re.compile(rf"/checkout/{order_id}/fields$"))
    expect(page.locator("#field-number iframe")).to_have_attribute(
        "src", re.compile(re.escape(stack["psp_url"]) + r"/fields/v1/number\?"))
    type_into_card_fields(page, VISA, journey)
    expect_paid(page, order_id)

    payment = wait_for(lambda: latest_payment(order_id), lambda p: p.status == "captured")
    session = sandbox_session(stack, payment.psp_reference)
    assert session["mode"] == "fields" and session["status"] == "captured"
    assert session["amount_captured"] == payment.amount_captured == 2400 + 1690
    assert session["payment_method"]["last4"] == payment.card_last4 == "4242"
    # The fields schedule (1.4 % + 0.20), as the PSP charged it and as we recorded it.
    assert session["fee"]["schedule"] == "fields"
    assert payment.psp_fee_amount == session["fee"]["amount"] == 57 + 20


def test_card_fields_with_3d_secure(page, shop, stack, journey):
    from tests.flows import latest_payment

    log_in(page)
    order_id = check_out(page, "Mug")
    continue_to_payment(page, MODE)
    type_into_card_fields(page, THREE_DS, journey)
    expect(page).to_have_url(re.compile(re.escape(stack["psp_url"]) + r"/auth/ps_\w+/3ds$"))
    page.get_by_role("button", name="Complete authentication").click()
    expect_paid(page, order_id)
    payment = wait_for(lambda: latest_payment(order_id), lambda p: p.status == "captured")
    session = sandbox_session(stack, payment.psp_reference)
    assert (session["status"], session["amount_captured"]) == ("captured", 2400)


def test_card_fields_decline_is_shown_next_to_the_fields_then_a_visa_pays(
        page, shop, stack, journey):
    from tests.flows import latest_payment

    log_in(page)
    order_id = check_out(page, "Mug")
    continue_to_payment(page, MODE)
    type_into_card_fields(page, DECLINED, journey)
    expect(page).to_have_url(re.compile(rf"/checkout/{order_id}/fields$"))
    error = page.locator("#error-form")
    expect(error).to_have_text("Your card was declined. Please try another card.")
    # Next to the fields: inside our form, just above our Pay button.
    expect(page.locator("#card-fields-form #error-form + button")).to_have_count(1)
    assert latest_payment(order_id).status == "declined"

    type_into_card_fields(page, VISA, journey)
    expect_paid(page, order_id)
    payment = wait_for(lambda: latest_payment(order_id), lambda p: p.status == "captured")
    assert sandbox_session(stack, payment.psp_reference)["amount_captured"] == 2400

