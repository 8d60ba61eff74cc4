"""A German buyer pays a mixed EUR + USD cart in EUR in Chromium, with the rates file and tax
table `make run` ships: the sandbox records one EUR payment of the whole amount, each seller is
credited in their item's currency, the ledger balances in each currency, the order shows both
amounts, the rate and the VAT, and the admin's per-country report lists the VAT collected.
The USD seller then pays out: the platform converts the buyer's EUR into USD at the sandbox
(once), and the sandbox pays the seller in USD."""
from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from tests.e2e.steps import VISA, continue_to_payment, expect_paid, log_in, pay_with
from tests.e2e.test_e2e_marketplace_money import (
    GOOD_IBAN,
    SETTLE_MS,
    add_bank_account,
    ledger_check_passes,
)

pytestmark = pytest.mark.e2e


def add_to_cart(page, title: str) -> None:
    page.goto("/")
    page.locator("article.item").filter(
        has=page.get_by_role("heading", name=title, exact=True)
    ).get_by_role("button", name="Add to cart").click()
    page.wait_for_url("**/cart")


def holds_of(order_id: int, timeout: float = 30.0) -> dict:
    """{currency: (seller id, gross)} once the capture has gone through the worker."""
    from sqlalchemy import select

    from app.extensions import db
    from app.models import EscrowHold

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.rollback()
        holds = db.session.execute(select(EscrowHold).where(
            EscrowHold.order_id == order_id)).scalars().all()
        if len(holds) == 2:
            return {h.currency: (h.seller_id, h.gross_amount) for h in holds}
        time.sleep(0.1)
    raise AssertionError(f"order {order_id} was never captured into escrow")


def test_mixed_cart_paid_in_eur_with_vat(page, shop, stack, topology, journey):
    from sqlalchemy import select

    from app.domain.ledger import AccountKind
    from app.extensions import db
    from app.models import LedgerEntry, Order
    from app.services.demo import _seed_rates
    from app.services.money import ledger
    from app.services.money.ledger_checks import check_all

    _seed_rates()  # what `flask seed-demo` loads for `make run`: the shipped files

    log_in(page, "buyer")
    add_to_cart(page, "Mug")       # 24.00 EUR, seller
    add_to_cart(page, "Kettle")    # 42.00 USD, other seller
    page.get_by_label("Your country").select_option("DE")
    page.get_by_role("button", name="Save country").click()
    expect(page.get_by_text("Prices include VAT for DE.")).to_be_visible()
    # 24.00 + 19 % VAT, shown with the tax included as EU buyers expect.
    expect(page.locator('section[data-currency="EUR"] tbody')).to_contain_text("28.56")

    section = page.locator("#pay-in-one")
    section.locator('input[name="currency"][value="EUR"]').check()
    section.get_by_role("button", name="Check out everything in one currency").click()
    page.wait_for_url(re.compile(r"/checkout/\d+$"))
    order_id = int(page.url.rsplit("/", 1)[1])
    db.session.rollback()
    order = db.session.get(Order, order_id)
    # Kettle: 42.00 USD at 1/1.0850 + 1.5 % margin = 39.29 EUR; VAT 4.56 + 7.47.
    assert (order.currency, order.total_amount, order.tax_amount) == ("EUR", 7532, 1203)
    table = page.locator("table.order-money")
    expect(table).to_contain_text("1 USD = 0.935484 EUR")
    expect(table.locator("tr.tax-line")).to_contain_text("VAT DE 19 %")
    expect(table.locator('[data-amount="total"]')).to_contain_text("75.32")

    continue_to_payment(page, "Hosted payment page")
    expect(page).to_have_url(re.compile(re.escape(topology["sandbox"].url) + r"/pay/ps_\w+$"))
    pay_with(page, VISA, journey)
    expect_paid(page, order_id)

    # The sandbox's own record: one EUR payment of the whole amount, captured once.
    holds = holds_of(order_id)
    db.session.rollback()
    payment = db.session.get(Order, order_id).current_payment
    session = topology["sandbox"].session(payment.psp_reference)
    assert (session["currency"], session["amount_captured"], session["status"]) == \
        ("eur", 7532, "captured")
    assert topology["sandbox_us"].session(payment.psp_reference) is None
    # Each seller credited in their item's currency.
    assert holds == {"EUR": (shop["seller"], 2400), "USD": (shop["other_seller"], 4200)}
    assert ledger.balance(AccountKind.ESCROW, str(shop["other_seller"]), "USD") == 4200
    assert ledger.balance(AccountKind.TAX_PAYABLE, "DE", "EUR") == 1203
    # The ledger balances in each currency on its own, and every invariant holds.
    sums: dict[str, int] = {}
    for entry in db.session.execute(select(LedgerEntry)).scalars():
        sums[entry.currency] = sums.get(entry.currency, 0) + entry.amount
    assert sums.keys() == {"EUR", "USD"} and set(sums.values()) == {0}
    assert check_all() == []

    page.goto(f"/orders/{order_id}")
    expect(page.locator("ul.fx-lines")).to_contain_text("42.00")
    expect(page.locator("ul.fx-lines")).to_contain_text("39.29")
    expect(page.locator("table.order-money tr.tax-line")).to_contain_text("VAT DE 19 %")

    log_in(page, "admin")
    page.goto("/admin/tax/report")
    row = page.locator('#tax-report tr[data-country="DE"]')
    expect(row).to_contain_text("12.03")

    # The USD seller is paid in USD out of the EUR the buyer paid (released by support here;
    # the release itself is walked in test_e2e_marketplace_money).
    from app.models import EscrowHold, Payout, TreasuryConversion
    from app.services.audit import Actor
    from app.services.money import escrow

    db.session.rollback()
    hold = db.session.execute(select(EscrowHold).where(
        EscrowHold.order_id == order_id, EscrowHold.currency == "USD")).scalar_one()
    escrow.support_decide(hold.id, "release", Actor("support@test.example", "127.0.0.1"))
    due = ledger.balance(AccountKind.SELLER_AVAILABLE, str(shop["other_seller"]), "USD")
    assert 0 < due < 4200 and ledger.held_at_psp("sandbox", "USD") == 0
    log_in(page, "other_seller")
    add_bank_account(page, GOOD_IBAN)
    page.goto("/seller")
    page.locator('#balances [data-currency="USD"]').get_by_role(
        "button", name="Pay out now").click()
    payouts = page.locator("#payouts")
    expect(payouts.locator("tbody tr").first).to_contain_text(f"${due / 100:.2f}")
    expect(payouts.locator("tbody tr").first.locator(".badge")).to_have_text(
        "paid", timeout=SETTLE_MS)
    db.session.rollback()
    payout = db.session.execute(select(Payout).where(Payout.currency == "USD")).scalar_one()
    conversion = db.session.execute(select(TreasuryConversion)).scalar_one()
    assert (conversion.payout_id, conversion.status) == (payout.id, "succeeded")
    assert (conversion.sold_currency, conversion.bought_amount) == ("EUR", due)
    # The sandbox's own records: the conversion EUR → USD, then the payout in USD, each once.
    sandbox = topology["sandbox"]
    converted = sandbox.api("GET", f"/v1/conversions/{conversion.psp_reference}").json()
    assert (converted["sell_currency"], converted["sell_amount"],
            converted["buy_currency"], converted["buy_amount"]) == (
        "eur", conversion.sold_amount, "usd", due)
    paid = sandbox.api("GET", f"/v1/payouts/{payout.psp_reference}").json()
    assert (paid["currency"], paid["amount"], paid["status"]) == ("usd", due, "paid")
    executions = sandbox.executions()
    assert executions[conversion.idempotency_key] == executions[payout.idempotency_key] == 1
    ledger_check_passes(stack)
