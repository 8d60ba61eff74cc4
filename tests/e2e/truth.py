"""What the ledger and the state tables say, for browser tests that compare it with what each
role's screens show; and the phone-width check those tests make on every screen they read.

Each read starts a fresh transaction: the live worker changes the tables under the test.
"""
from __future__ import annotations

from playwright.sync_api import expect

PHONE = {"width": 390, "height": 844}


def fresh():
    """The database session, with nothing cached from before."""
    from app.extensions import db

    db.session.rollback()
    db.session.expire_all()
    return db.session


def shown(minor: int, currency: str = "EUR") -> str:
    """An amount as the money filter shows it to an English browser (under €1,000)."""
    from app.domain.money import Money, format_money

    return format_money(Money(minor, currency))


def holds(order_id: int) -> dict:
    """The order's escrow holds by line title."""
    from sqlalchemy import select

    from app.models import EscrowHold

    rows = fresh().execute(select(EscrowHold).where(EscrowHold.order_id == order_id)).scalars()
    return {hold.line.title: hold for hold in rows}


def statuses(order_id: int) -> tuple[str, str]:
    """(order status, its current payment's status)."""
    from app.models import Order

    order = fresh().get(Order, order_id)
    return order.status, order.current_payment.status


def ledger_escrow(user_id: int, currency: str = "EUR") -> int:
    """The seller's escrow balance in the ledger."""
    from app.services.money import ledger

    fresh()
    return ledger.seller_balances(user_id).get(currency, {}).get("escrow", 0)


def fits(page) -> None:
    """No horizontal scroll: the document is no wider than the viewport (at any width)."""
    page.wait_for_load_state("load")
    width, viewport = page.evaluate(
        "[document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= viewport, f"{page.url} is {width} px wide in a {viewport} px viewport"


def status_badge(page, order_id: int) -> str:
    """The buyer's status of an order, as the orders list and the order's header show it
    (they must agree)."""
    page.goto("/orders")
    listed = page.locator("tr").filter(has=page.get_by_role("link", name=f"#{order_id}",
                                                            exact=True)).locator(".badge")
    text = listed.inner_text()
    fits(page)
    page.goto(f"/orders/{order_id}")
    expect(page.locator("h1 .badge")).to_have_text(text)
    return text


def seller_escrow_agrees(page, user_id: int, currency: str = "EUR") -> int:
    """On the seller's dashboard: the "In escrow" tile is the ledger's escrow balance and the
    sum of the lines listed under it; returns it."""
    page.goto("/seller")
    balance = ledger_escrow(user_id, currency)
    expect(page.locator(f'#balances [data-currency="{currency}"] [data-kind="escrow"] dd')
           ).to_have_text(shown(balance, currency))
    lines = page.locator("#escrow li[data-hold] .amount")
    total = sum(int(lines.nth(i).get_attribute("data-amount")) for i in range(lines.count()))
    assert total == balance, f"escrow lines sum to {total}, the ledger holds {balance}"
    fits(page)
    return balance


def fees_row(page, order_id: int) -> dict[str, str]:
    """The seller's "Fees per order" row of an order, by column."""
    row = page.locator(f'#fees tr[data-order="{order_id}"]')
    return {kind: row.locator(f'[data-kind="{kind}"]').inner_text()
            for kind in ("gross", "refunded", "fee", "net")}


def expected_fees(hold) -> dict[str, str]:
    """What a one-line order's fees row must say, from its hold."""
    gross, fee = hold.gross_amount - hold.refunded_amount, hold.fee_amount - hold.fee_returned
    return {"gross": shown(gross), "refunded": shown(hold.refunded_amount), "fee": shown(fee),
            "net": shown(gross - fee)}
