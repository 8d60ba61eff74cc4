"""An admin changes the payment routing in Chromium: an invalid file is explained and nothing
is saved; a valid one sending EUR to Braintree is in force for the very next checkout of the
running platform (no restart), and support sees the provider and the reason on the payment."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import E2E_TMP
from tests.e2e.psp_fakes import braintree_in_force
from tests.e2e.steps import check_out, continue_to_payment, log_in

pytestmark = pytest.mark.e2e

EUR_TO_BRAINTREE = """version = 1

[[rule]]
name = "euro-to-braintree"
description = "Euro payments go to Braintree."
currency = ["EUR"]
providers = ["braintree"]

[[rule]]
name = "default"
providers = ["sandbox"]
"""
BROKEN = EUR_TO_BRAINTREE.replace('["EUR"]', '["euro"]').replace('["braintree"]', '["paypal"]')


@pytest.fixture(scope="module", autouse=True)
def routing_file(stack):
    """A fresh routing file (the shipped default, copied on first use) and a fake Braintree,
    configured in the platform and in this module's worker."""
    path = E2E_TMP / "routing-admin.toml"
    path.unlink(missing_ok=True)
    with braintree_in_force(stack, path):
        yield path


def start_embedded_checkout(page, title: str) -> int:
    """As the buyer, order one item in EUR and continue to the embedded card form."""
    log_in(page, "buyer")
    order_id = check_out(page, title)
    continue_to_payment(page, "Embedded card form")
    return order_id


def payment_of(order_id: int):
    """The order's payment as the live platform committed it (a fresh transaction)."""
    from app.extensions import db
    from tests.flows import latest_payment

    db.session.rollback()
    return latest_payment(order_id)


def routing_changes() -> list:
    from app.extensions import db
    from app.models import AuditRecord

    db.session.rollback()
    return db.session.execute(db.select(AuditRecord).where(
        AuditRecord.action == "routing.changed")).scalars().all()


# Saving the broken file is answered 400 (the form again, with every problem named).
@pytest.mark.allow_console(r"400\b.*/admin/routing$|400 \(BAD REQUEST\) \(\S+/admin/routing\)")
def test_admin_fixes_the_routing_and_the_next_checkout_follows_it(page, shop, stack, journey,
                                                                  routing_file):
    from app.providers import routing_file as routing

    # Before: the shipped rules send a euro checkout to the sandbox PSP.
    before_order = start_embedded_checkout(page, "Mug")
    expect(page).to_have_url(re.compile(rf"/checkout/{before_order}/card$"))
    shipped = routing_file.read_text()
    before = payment_of(before_order)
    assert (before.provider, before.routing_rule) == ("sandbox", "eur-gbp-to-eu-acquirer")

    # An invalid file: every problem named, nothing saved, the text kept for fixing.
    log_in(page, "admin")
    page.goto("/admin/routing")
    version = page.locator("#routing-hash").inner_text()
    assert version == routing.digest(shipped)
    page.get_by_label("Routing rules (TOML)").fill(BROKEN)
    page.get_by_role("button", name="Save and reload").click()
    problems = page.locator("#routing-problems")
    expect(problems).to_contain_text("Nothing was saved. Please fix:")
    expect(problems).to_contain_text("rule “euro-to-braintree”: currency: 'euro' is not a 3-letter")
    expect(problems).to_contain_text("rule “euro-to-braintree”: providers: unknown provider "
                                     "'paypal'")
    expect(page.get_by_label("Routing rules (TOML)")).to_have_value(BROKEN)
    expect(page.locator("#routing-hash")).to_have_text(version)
    assert routing_file.read_text() == shipped and routing_changes() == []

    # A valid file: saved, audited, shown as the rules in force.
    page.get_by_label("Routing rules (TOML)").fill(EUR_TO_BRAINTREE)
    page.get_by_role("button", name="Save and reload").click()
    expect(page.get_by_text("Routing saved and in force.")).to_be_visible()
    expect(page.locator("#routing-hash")).to_have_text(routing.digest(EUR_TO_BRAINTREE))
    rules = page.locator("#routing-rules tbody tr")
    expect(rules).to_have_count(2)
    expect(rules.first).to_contain_text("euro-to-braintree")
    expect(rules.first).to_contain_text("currency EUR")
    expect(rules.first).to_contain_text("braintree")
    assert routing_file.read_text() == EUR_TO_BRAINTREE
    [change] = routing_changes()
    assert change.actor == "admin@test.example"
    assert f'"old_hash": "{version}"' in change.details
    assert f'"new_hash": "{routing.digest(EUR_TO_BRAINTREE)}"' in change.details

    # The very next euro checkout, on the same running platform, goes to Braintree's Drop-in.
    after_order = start_embedded_checkout(page, "Candle")
    expect(page).to_have_url(re.compile(rf"/checkout/{after_order}/braintree$"))
    expect(page.locator("#dropin-frame")).to_be_visible()
    after = payment_of(after_order)
    assert (after.provider, after.routing_rule) == ("braintree", "euro-to-braintree")

    # Support sees each payment's provider and the reason it was routed there.
    log_in(page, "support")
    for payment, provider, reason in (
            (after, "braintree (embedded)", "rule “euro-to-braintree”: currency EUR → braintree"),
            (before, "sandbox (embedded)", "rule “eur-gbp-to-eu-acquirer”: currency EUR")):
        page.goto(f"/support/payments/{payment.id}")
        expect(page.locator("dt:text-is('Provider') + dd")).to_contain_text(provider)
        expect(page.locator("dt:text-is('Routing') + dd")).to_contain_text(reason)
