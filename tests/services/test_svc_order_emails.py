"""The messages of an order's life, in the outbox with both parts: receipt and new sale when it
is paid, "shipped" to the buyer, "delivered" to the seller, "payout paid"; and the receipt shows
adjustment lines (taxes, shipping, FX) that other modules add."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from app.extensions import db
from app.jobs.payouts import run_payouts
from app.models import EscrowHold, Notification, Order
from app.services import notifications, order_emails
from app.services.audit import Actor
from app.services.money import bank_accounts, escrow
from tests import flows
from tests.flows import PASSWORD, add, login, settle
from tests.services.checkout.test_svc_converted_checkout import (  # noqa: F401  (rates)
    TOTAL,
    pay,
    place,
    rates,
    set_country,
)

SELLER = Actor("seller@test.example", "127.0.0.1")


def _notes(kind: str) -> list[Notification]:
    notifications.render_drafts()  # what the delivery job does first (receipts are drafts)
    db.session.expire_all()
    return list(db.session.execute(select(Notification).where(
        Notification.kind == kind).order_by(Notification.id)).scalars())


def test_an_orders_life_in_messages(client, people, stack, psp):
    from sandbox_psp.webhooks import deliver_due

    order_id = flows.paid_order(client, people, stack, psp, {"mug": 1})
    [receipt] = _notes("order_receipt")
    [sale] = _notes("new_sale")
    assert receipt.user_id == people["buyer"] and sale.user_id == people["seller"]
    assert "1 × Mug" in receipt.body and "<table" in receipt.html
    assert "Platform fees: -€2.40" in sale.body and "Yours on release: €21.60" in sale.body

    hold = db.session.execute(select(EscrowHold).where(
        EscrowHold.order_id == order_id)).scalar_one()
    escrow.mark_shipped(people["seller"], hold.id, "TRACK-42", SELLER)
    [shipped] = _notes("shipped")
    assert shipped.user_id == people["buyer"] and "TRACK-42" in shipped.body
    assert f"/orders/{order_id}" in shipped.html

    escrow.confirm_receipt(people["buyer"], hold.id, Actor("buyer@test.example", "127.0.0.1"))
    [delivered] = _notes("delivered")
    assert delivered.user_id == people["seller"]
    assert "the buyer confirmed receipt" in delivered.body and "€21.60" in delivered.body

    bank_accounts.register_or_change(people["seller"], PASSWORD, "Northwind Goods", SELLER,
                                     iban="DE89370400440532013000")
    run_payouts()
    settle(psp)
    deliver_due(psp, now=time.time() + 60)
    settle(psp)
    [paid] = _notes("payout_paid")
    assert paid.user_id == people["seller"] and "€21.60 was paid" in paid.subject
    assert "3000" in paid.body  # the account it reached


def test_the_receipt_shows_adjustment_lines_from_other_modules(client, people, stack, psp,
                                                              monkeypatch):
    order_id = flows.paid_order(client, people, stack, psp, {"mug": 1, "candle": 1})
    order = db.session.get(Order, order_id)

    def taxes(order):
        return [order_emails.Adjustment("VAT 19 % (included)", 383, people["seller"]),
                order_emails.Adjustment("Currency conversion", -5)]

    monkeypatch.setattr(order_emails, "ADJUSTMENT_SOURCES", [taxes])
    receipt = order_emails.receipt(order)
    mine = next(g for g in receipt.sellers if g.seller_name == "Seller")
    assert mine.rows() == [("1 × Mug", 2400), ("VAT 19 % (included)", 383)]
    assert receipt.adjustment_rows() == [("Currency conversion", -5)]
    order_emails.order_paid(order)
    db.session.commit()
    text = _notes("order_receipt")[-1].body
    assert "VAT 19 % (included): €3.83" in text and "Currency conversion: -€0.05" in text


@pytest.mark.usefixtures("rates")
def test_a_converted_and_taxed_receipt_adds_up_in_the_buyers_currency(
        client, people, stack, psp):
    """Each line in the currency paid, a converted one with its own price and rate, the tax
    per seller: the receipt's rows add up to what the PSP captured."""
    set_country(people["buyer"], "DE")
    login(client, "buyer")
    add(client, people["mug"])
    add(client, people["board"])
    order_id = place(client)
    payment = pay(client, stack, psp, order_id)

    receipt = order_emails.receipt(db.session.get(Order, order_id))

    rows = [row for group in receipt.sellers for row in group.rows()]
    assert sum(amount for _, amount in rows) + sum(a for _, a in receipt.adjustment_rows()) \
        == receipt.total == payment.amount_captured == TOTAL
    labels = " | ".join(label for label, _ in rows)
    assert "($59.00 at 1 USD = " in labels and "VAT DE 19 %" in labels
    assert ("1 × Mug", 2400) in rows  # same currency: as placed
