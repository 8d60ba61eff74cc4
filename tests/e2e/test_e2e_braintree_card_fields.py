"""A buyer routed to Braintree pays in Hosted Fields on our own page in Chromium (mode
"fields"): our page loads the fake's versioned Hosted Fields stand-in (SRI-pinned) from the
fake's origin, authorized by a client token made for the page, which mounts number, expiry and
CVV as iframes on that origin in our form. A decline is shown next to the fields; a Visa then
pays with "Save my card", which vaults it; the next order pays with the vaulted card. Money is
checked against the fake gateway's own transactions; no card number reaches the platform."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.psp_fakes import braintree_in_force, routing_to
from tests.e2e.steps import check_out, expect_paid, log_in, type_into_card_fields, wait_for

pytestmark = pytest.mark.e2e

VISA, DECLINED = "4111 1111 1111 1111", "4000 1111 1111 1115"
MODE = "Card form on this page"


@pytest.fixture(scope="module", autouse=True)
def braintree(stack):
    """The fake Braintree (API, vault, Hosted Fields), every payment routed to it."""
    with braintree_in_force(stack, routing_to("braintree", "e2e-braintree-fields")) as fake:
        yield fake


def test_braintree_hosted_fields_decline_then_pay_and_save_then_pay_with_the_vaulted_card(
        page, shop, stack, journey, braintree, e2e_record):
    from app.models import Payment
    from tests.fakes.braintree.hosted_fields import SCRIPT_PATH
    from tests.flows import assert_never_stored, latest_payment

    seen_before = len(e2e_record["platform_requests"])
    log_in(page)
    first = check_out(page, "Mug", "Candle")
    page.get_by_label(MODE).check()
    page.get_by_label("Save my card for next time").check()
    page.get_by_role("button", name=re.compile(r"^Continue to payment")).click()
    expect(page).to_have_url(re.compile(rf"/checkout/{first}/fields$"))
    assert page.locator(f'script[src="{braintree.url}{SCRIPT_PATH}"]').get_attribute(
        "integrity").startswith("sha384-")
    expect(page.locator("#field-number iframe")).to_have_attribute(
        "src", re.compile(re.escape(braintree.url) + r"/hosted-fields/frame/number\?"))

    # Declined: our page again, the reason next to the fields, nothing paid.
    type_into_card_fields(page, DECLINED, journey)
    expect(page).to_have_url(re.compile(rf"/checkout/{first}/fields$"))
    expect(page.locator("#error-form")).to_have_text(
        "Your card was declined. Please try another card.")
    assert latest_payment(first).status == "declined"

    type_into_card_fields(page, VISA, journey)
    expect_paid(page, first)
    paid = wait_for(lambda: latest_payment(first), lambda p: p.status == "captured")
    # Braintree's own record: the declined sale and the settled one, under our key.
    sales = sorted((t for t in braintree.gateway.transactions.values()
                    if t["order_id"] == paid.idempotency_key), key=lambda t: t["created_at"])
    assert [t["status"] for t in sales] == ["processor_declined", "settled"]
    assert sales[1]["id"] == paid.psp_reference and sales[1]["amount"] == "40.90"
    assert paid.amount_captured == 2400 + 1690
    [token] = list(braintree.gateway.vault)
    assert sales[1]["credit_card"]["token"] == token

    # The next order: the vaulted card pays, no card typed.
    second = check_out(page, "Mug")
    saved = page.get_by_label(re.compile(r"Saved card: Visa •••• 1111"))
    expect(saved).to_be_visible()
    saved.check()
    page.get_by_role("button", name=re.compile(r"^Continue to payment")).click()
    expect_paid(page, second)
    again = wait_for(lambda: latest_payment(second), lambda p: p.status == "captured")
    reused = braintree.gateway.transactions[again.psp_reference]
    assert (reused["credit_card"]["token"], reused["amount"], reused["status"]) == (
        token, "24.00", "settled")

    # The cards went to Braintree's origin only (its tokenize endpoint, from its frames); we
    # got nonces and sent Braintree nonces or the vault token, never a card.
    typed = [body for _, _, body in braintree.recorder.to(r"^/hosted-fields/tokenize$")]
    assert len(typed) == 2
    mine = e2e_record["platform_requests"][seen_before:]
    cards = [c for card in (VISA, DECLINED) for c in (card, card.replace(" ", ""))]
    for text in mine + [body for _, _, body in braintree.recorder.to(r"/transactions$")]:
        assert not any(card in text for card in cards), text
    posts = [r for r in mine if r.startswith("POST ") and f"/checkout/{first}/fields " in r]
    assert len(posts) == 2 and all("token=tokencc_" in r for r in posts)
    assert_never_stored(Payment, cards + [token], file_marker=again.psp_reference.encode())

    page.goto("/checkout/saved-cards")
    page.get_by_role("button", name=re.compile(r"Remove Visa •••• 1111")).click()
    expect(page.get_by_text("Saved card removed.")).to_be_visible()
