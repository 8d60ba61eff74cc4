"""A buyer pays in Chromium in every currency the demo catalogue sells, on the hosted page and in
the embedded form, with `make run`'s two sandbox instances and its shipped routing file.

Each payment is then checked against the PSP's own record, over the instance's HTTP API with the
platform's key: the session exists on the instance the routing file chose (USD → sandbox_us),
captured in full in the right currency, absent from the other instance, and its creation and
capture each executed exactly once (the sandbox's per-idempotency-key execution counts).
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from app.services.demo import DEMO_ITEMS
from tests.e2e.steps import VISA, check_out, continue_to_payment, expect_paid, log_in, pay_with

pytestmark = pytest.mark.e2e

# The first demo item of each currency the demo catalogue seeds: (title, price text).
DEMO_BY_CURRENCY = {}
for _items in DEMO_ITEMS.values():
    for _title, _description, _price, _currency, *_ in _items:
        DEMO_BY_CURRENCY.setdefault(_currency, (_title, _price))
# What the shipped routing file must decide, whatever else it says.
ROUTED_TO = {"USD": "sandbox_us", "EUR": "sandbox"}
MODES = ("Hosted payment page", "Embedded card form")


def test_every_demo_currency_is_covered_by_the_routing_expectations():
    assert set(DEMO_BY_CURRENCY) <= set(ROUTED_TO), "a new demo currency: say where it goes"


def list_demo_item(seller_id: int, currency: str) -> tuple[str, int]:
    """Put the demo catalogue's item in `currency` on sale by the test seller; (title, amount)."""
    from app.extensions import db
    from app.models import Item
    from app.services.audit import Actor
    from app.services.shop import catalogue

    title, price = DEMO_BY_CURRENCY[currency]
    item_id = catalogue.create_item(seller_id, title, "", price, currency, 5,
                                    Actor("test:e2e", "cli"))
    return title, db.session.get(Item, item_id).price_amount


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("currency", sorted(DEMO_BY_CURRENCY))
def test_buyer_pays_each_demo_currency_on_the_instance_routing_chose(
        page, shop, topology, journey, currency, mode):
    from app.domain.routing import RouteContext
    from app.providers import registry, routing_file
    from tests.e2e.steps import wait_for
    from tests.flows import latest_payment

    title, amount = list_demo_item(shop["seller"], currency)
    decided = routing_file.current().decide(RouteContext(currency, amount),
                                            registry.configured()).providers[0]
    assert decided == ROUTED_TO[currency]
    psp = topology[decided]

    log_in(page)
    order_id = check_out(page, title, currency=currency)
    continue_to_payment(page, mode)
    if mode == "Hosted payment page":
        expect(page).to_have_url(re.compile(re.escape(psp.url) + r"/pay/ps_\w+$"))
        pay_with(page, VISA, journey)
    else:
        expect(page).to_have_url(re.compile(rf"/checkout/{order_id}/card$"))
        expect(page.locator("#psp-frame")).to_have_attribute(
            "src", re.compile(re.escape(psp.url) + r"/embed/ps_\w+$"))
        pay_with(page.frame_locator("#psp-frame"), VISA, journey)
    expect_paid(page, order_id)

    payment = wait_for(lambda: latest_payment(order_id), lambda p: p.status == "captured")
    assert (payment.provider, payment.status, payment.currency) == (decided, "captured", currency)
    assert payment.amount == payment.amount_captured == amount
    assert_psp_record(topology, psp, payment)


def assert_psp_record(topology, psp, payment) -> None:
    """The PSP's own record agrees with ours, on the chosen instance only, executed once."""
    from app.services.payments.actions import action_key

    session = psp.session(payment.psp_reference)
    assert session is not None, f"{psp.name} has no session {payment.psp_reference}"
    assert session["client_reference_id"] == payment.idempotency_key
    assert (session["status"], session["currency"]) == ("captured", payment.currency.lower())
    assert session["amount"] == session["amount_authorized"] == session["amount_captured"] \
        == payment.amount
    executions = psp.executions()
    created, captured = payment.idempotency_key, action_key(payment, "capture")
    assert (executions.get(created), executions.get(captured)) == (1, 1), executions
    for other in topology.values():
        if other.name != psp.name:
            assert other.session(payment.psp_reference) is None
            assert created not in other.executions(), f"{other.name} saw {created}"
