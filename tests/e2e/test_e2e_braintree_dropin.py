"""A buyer routed to Braintree pays in the Drop-in in Chromium: the fake Braintree serves the
Drop-in stand-in on its own origin inside our page's iframe, the card goes only there, the
platform receives a one-time nonce, authorizes through the adapter (order_id = our key) and
the live worker captures with submit_for_settlement; a declined card is explained and another
card then pays the same order."""
from __future__ import annotations

import re
from urllib.parse import parse_qs

import pytest
from playwright.sync_api import expect

from tests.e2e.psp_fakes import braintree_in_force, routing_to
from tests.e2e.steps import (
    EXPIRY,
    check_out,
    continue_to_payment,
    expect_paid,
    log_in,
    wait_for,
)

pytestmark = pytest.mark.e2e

VISA, DECLINED = "4111 1111 1111 1111", "4000 1111 1111 1115"


@pytest.fixture(scope="module", autouse=True)
def braintree(stack):
    """The fake Braintree for this module, every payment routed to it by a one-rule file."""
    with braintree_in_force(stack, routing_to("braintree", "e2e-braintree")) as fake:
        yield fake


def use_card(page, number: str, cards: set) -> None:
    """Type a test card into the Drop-in frame (Braintree's origin) and submit it."""
    cards.add(number)
    frame = page.frame_locator("#dropin-frame")
    frame.get_by_label("Card number").fill(number)
    frame.get_by_label("Expiry (MM/YY)").fill(EXPIRY)
    frame.get_by_label("CVV").fill("123")
    frame.get_by_role("button", name="Use this card").click()


def nonce_posts(requests: list[str], order_id: int) -> list[dict[str, list[str]]]:
    """The form fields of each POST the browser sent to the order's Drop-in page."""
    return [parse_qs(r.split(" ", 2)[2], keep_blank_values=True) for r in requests
            if r.startswith("POST ") and re.search(rf"/checkout/{order_id}/braintree ", r)]


def test_buyer_pays_in_the_drop_in_after_a_decline_and_only_nonces_reach_us(
        page, shop, stack, journey, braintree, e2e_record):
    from app.extensions import db
    from app.models import Order, Payment
    from tests.flows import assert_never_stored, latest_payment

    seen_before = len(e2e_record["platform_requests"])
    log_in(page)
    order_id = check_out(page, "Mug", "Candle")
    continue_to_payment(page, "Embedded card form")
    expect(page).to_have_url(re.compile(rf"/checkout/{order_id}/braintree$"))
    payment = wait_for(lambda: latest_payment(order_id), lambda p: p is not None)
    assert (payment.provider, payment.routing_rule) == ("braintree", "e2e-braintree")
    frame = page.locator("#dropin-frame")
    assert frame.get_attribute("src").startswith(f"{braintree.url}/dropin?authorization=")

    # A declined card: back on the Drop-in page with the reason, nothing paid.
    use_card(page, DECLINED, journey)
    expect(page.get_by_role("alert").filter(
        has_text="Your card was declined. Please try another card.")).to_be_visible()
    expect(page).to_have_url(re.compile(rf"/checkout/{order_id}/braintree$"))
    declined = wait_for(lambda: latest_payment(order_id), lambda p: p.status == "declined")
    assert (declined.status, declined.decline_code) == ("declined", "generic_decline")
    assert db.session.get(Order, order_id).status == "awaiting_payment"

    # Another card in a fresh Drop-in pays the same order; the worker captures it.
    use_card(page, VISA, journey)
    expect_paid(page, order_id)
    payment = wait_for(lambda: latest_payment(order_id), lambda p: p.status == "captured")
    assert (payment.provider, payment.status) == ("braintree", "captured")
    assert payment.amount == payment.amount_captured == 2400 + 1690
    assert (payment.card_brand, payment.card_last4) == ("Visa", "1111")
    assert db.session.get(Order, order_id).status == "paid"

    # Braintree's side: the declined and the approved sale, both under our key as order_id;
    # the approved one submitted for settlement once, in full.
    sales = sorted((t for t in braintree.gateway.transactions.values()
                    if t["order_id"] == payment.idempotency_key), key=lambda t: t["created_at"])
    assert [t["status"] for t in sales] == ["processor_declined", "settled"]
    assert sales[1]["id"] == payment.psp_reference and sales[1]["amount"] == "40.90"
    assert braintree.gateway.executions[f"capture:{payment.psp_reference}"] == 1
    assert len(braintree.recorder.to(rf"/transactions/{payment.psp_reference}/"
                                     r"submit_for_settlement$")) == 1

    # The card went to Braintree's origin (the Drop-in's tokenize call) and nowhere else: the
    # platform got two posts of a nonce (and the CSRF field), and sent Braintree nonces.
    tokenized = [body for _, _, body in braintree.recorder.to(r"^/dropin/tokenize$")]
    assert len(tokenized) == 2 and DECLINED in tokenized[0] and VISA in tokenized[1]
    mine = e2e_record["platform_requests"][seen_before:]
    posts = nonce_posts(mine, order_id)
    assert len(posts) == 2
    for fields in posts:
        assert set(fields) - {"csrf_token"} == {"payment_method_nonce"}  # CSRF off in tests
        assert re.fullmatch(r"tokencc_[0-9a-f]{16}", fields["payment_method_nonce"][0])
    sent_sales = [body for _, _, body in braintree.recorder.to(r"/transactions$")]
    assert len(sent_sales) == 2
    assert all("tokencc_" in b and payment.idempotency_key in b for b in sent_sales)
    cards = [c for card in (VISA, DECLINED) for c in (card, card.replace(" ", ""))]
    for text in mine + sent_sales:
        assert not any(card in text for card in cards), text
    assert_never_stored(Payment, cards, file_marker=payment.psp_reference.encode())
