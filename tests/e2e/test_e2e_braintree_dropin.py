"""A buyer routed to Braintree pays in the Drop-in in Chromium: the fake Braintree serves the
Drop-in stand-in on its own origin inside our page's iframe, the card goes only there, the
platform receives a one-time nonce, authorizes through the adapter (order_id = our key) and
the live worker captures with submit_for_settlement; a declined card is explained and another
card then pays the same order."""
from __future__ import annotations

import io
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qs

import pytest
from playwright.sync_api import expect

from tests.conftest import serve
from tests.e2e.conftest import E2E_TMP
from tests.e2e.steps import (
    EXPIRY,
    check_out,
    continue_to_payment,
    expect_paid,
    log_in,
    wait_for,
)
from tests.fakes.braintree import Gateway, create_app
from tests.fakes.braintree.wiring import (
    MERCHANT_ID,
    PRIVATE_KEY,
    PUBLIC_KEY,
    forget,
    settings,
)

pytestmark = pytest.mark.e2e

VISA, DECLINED = "4111 1111 1111 1111", "4000 1111 1111 1115"
ROUTE_ALL_TO_BRAINTREE = """version = 1

[[rule]]
name = "e2e-braintree"
description = "Every payment goes to Braintree in this journey."
providers = ["braintree"]
"""


class Recorder:
    """WSGI middleware keeping every request the fake Braintree receives (method, path,
    body): where the card went, and what the platform sent."""

    def __init__(self, wsgi):
        self.wsgi, self.requests, self.lock = wsgi, [], threading.Lock()

    def __call__(self, environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)  # the fake reads it again
        with self.lock:
            self.requests.append((environ["REQUEST_METHOD"], environ["PATH_INFO"],
                                  body.decode("utf-8", "replace")))
        return self.wsgi(environ, start_response)

    def to(self, path_pattern: str) -> list[tuple[str, str, str]]:
        """The recorded requests whose path matches."""
        with self.lock:
            return [r for r in self.requests if re.search(path_pattern, r[1])]


@contextmanager
def braintree_in_force(stack, routing: Path) -> Iterator[SimpleNamespace]:
    """Serve a fake Braintree (API + Drop-in) on its own origin; configure the live platform
    and (through the environment) the worker a module starts for it; ROUTING_FILE = routing."""
    app = stack["app"]
    gateway = Gateway(MERCHANT_ID, PUBLIC_KEY, PRIVATE_KEY, timeout_seconds=3.0)
    recorder = Recorder(create_app(gateway))
    server, url = serve(recorder)
    wanted = settings(url) | {"ROUTING_FILE": str(routing)}
    saved_env = {name: os.environ.get(name) for name in wanted}
    saved_config = {name: app.config.get(name) for name in wanted}
    os.environ.update(wanted)
    app.config.update(wanted)
    forget(app)
    try:
        yield SimpleNamespace(gateway=gateway, url=url, recorder=recorder)
    finally:
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        app.config.update(saved_config)
        forget(app)
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module", autouse=True)
def braintree(stack):
    """The fake Braintree for this module, every payment routed to it by a one-rule file."""
    routing = E2E_TMP / "routing-braintree.toml"
    routing.write_text(ROUTE_ALL_TO_BRAINTREE)
    with braintree_in_force(stack, routing) as fake:
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
