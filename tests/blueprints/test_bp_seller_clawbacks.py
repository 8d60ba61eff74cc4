"""Clawbacks reversed from a seller's Stripe transfers: on their payouts section and statement,
and only theirs."""
from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from app.extensions import db
from app.jobs.connect import sweep_clawbacks
from app.models import LedgerTransaction, Payment, Payout
from app.models.transfer_reversals import TransferReversal
from tests.fakes.stripe.wiring import stripe_on
from tests.flows import login, run_jobs
from tests.services.money.test_svc_stripe_connect import (
    API_KEY,
    WEBHOOK_SECRET,
    paid_out_then_refunded,
)

HTMX = {"HX-Request": "true"}


@pytest.fixture
def stripe_fake(app):
    """A fake Stripe the platform is configured with (payments stay on the sandbox)."""
    with stripe_on(app, API_KEY, WEBHOOK_SECRET) as fake:
        yield fake


@pytest.fixture
def reversal(client, people, stack, psp, stripe_fake) -> TransferReversal:
    """The seller, paid €43.20 by Stripe transfer, refunds €24.00 of it: €21.60 is reversed."""
    txn_id, payout_id = paid_out_then_refunded(client, people, stack, psp, 2400)
    sweep_clawbacks()
    run_jobs()
    row = db.session.execute(select(TransferReversal)).scalar_one()
    assert (row.status, row.amount, row.payout_id, row.source_transaction_id) == (
        "succeeded", 2160, payout_id, txn_id)
    return row


def _as(app, who: str):
    client = app.test_client()
    login(client, who)
    return client


def test_the_seller_sees_the_reversal_beside_their_payouts(app, people, reversal):
    txn = db.session.get(LedgerTransaction, reversal.source_transaction_id)
    order_id = db.session.get(Payment, txn.payment_id).order_id
    refund_id = txn.intent.split(":")[1]
    transfer = db.session.get(Payout, reversal.payout_id).psp_reference
    seller = _as(app, "seller")

    for html in (seller.get("/seller/payouts", headers=HTMX).get_data(as_text=True),
                 seller.get("/seller").get_data(as_text=True)):
        row = html.split(f'data-reversal="{reversal.id}"', 1)[1].split("</tr>", 1)[0]
        assert "€21.60" in row and "succeeded" in row
        assert f"Payout {reversal.payout_id}" in row and transfer in row
        assert f"Refund {refund_id} on order {order_id}" in row


def test_another_seller_sees_no_reversal(app, people, reversal):
    other = _as(app, "other_seller")

    for url in ("/seller/payouts", "/seller"):
        html = other.get(url).get_data(as_text=True)
        assert "data-reversal" not in html and "€21.60" not in html


def test_the_statement_lists_the_reversal_with_its_payout(app, people, reversal):
    rows = list(csv.reader(io.StringIO(
        _as(app, "seller").get("/seller/statement.csv").get_data(as_text=True))))[1:]
    [line] = [r for r in rows if r[1] == "transfer_reversed"]
    assert line[2:6] == [f"reversal {reversal.id} of payout {reversal.payout_id}",
                         "seller_available", "21.60", "EUR"]
    assert line[6] == "0.00"  # back to zero after the refund left it at −21.60

    other = list(csv.reader(io.StringIO(
        _as(app, "other_seller").get("/seller/statement.csv").get_data(as_text=True))))[1:]
    assert all(r[1] != "transfer_reversed" for r in other)
