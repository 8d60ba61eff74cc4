"""A refund of a converted line after its release takes the seller's share back in their own
currency (the "fx_refund" posting): for a seller paid through Stripe Connect, that posting is
a clawback like any refund's, so it queues the transfer reversal and the safety net sees it."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.domain.ledger import AccountKind
from app.extensions import db
from app.models import LedgerTransaction, Order
from app.services.audit import Actor
from app.services.money import clawbacks, connected_accounts, ledger
from app.services.money.clawbacks import enqueue_for_posting
from app.services.refunds import refunds
from tests.blueprints.money_steps import holds, release
from tests.flows import PASSWORD, add, login
from tests.services.checkout.test_svc_converted_checkout import (  # noqa: F401  (fixture)
    pay,
    place,
    rates,
    set_country,
)
from tests.services.money.test_svc_stripe_connect import (  # noqa: F401  (fixture)
    open_account,
    seller_actor,
    stripe_fake,
)

SUPPORT = Actor("support@test.example", "127.0.0.1")


@pytest.mark.usefixtures("rates", "stripe_fake")
def test_a_converted_line_refunded_after_release_is_a_clawback(
        client, people, stack, psp, monkeypatch):
    connected_accounts.register_stripe_account(people["seller"], open_account(), PASSWORD,
                                               seller_actor(people))
    set_country(people["buyer"], "DE")
    login(client, "buyer")
    add(client, people["mug"])
    add(client, people["board"])
    payment = pay(client, stack, psp, place(client))
    order = db.session.get(Order, payment.order_id)
    board = next(line for line in order.lines if line.currency == "USD")
    release(holds(order.id)[board.title].id)
    queued = []
    monkeypatch.setattr(clawbacks, "enqueue_reversal",
                        lambda txn, seller: queued.append((txn, seller)))

    refund = refunds.request_refund(payment.id, lines={board.id: 5900}, reason="broken",
                                    actor=SUPPORT, by="support")
    taken = 5900 - refund.lines[0].fee_returned
    assert ledger.balance(AccountKind.SELLER_AVAILABLE, str(people["seller"]), "USD") == 0
    fx_txn = db.session.execute(select(LedgerTransaction).where(
        LedgerTransaction.intent == f"refund:{refund.id}:fx:USD")).scalar_one()
    assert fx_txn.event == "fx_refund"
    # What the posting took from the seller's released USD, as any refund's clawback.
    assert clawbacks.clawed_back(fx_txn.id) == {people["seller"]: taken}
    # The refund's trigger (by its intent) reaches the USD posting: one reversal queued.
    queued.clear()
    assert enqueue_for_posting(f"refund:{refund.id}") == 1
    assert queued == [(fx_txn.id, people["seller"])]
