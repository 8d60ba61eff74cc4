"""What ledger.post stores about the PSP object a posting moved money on (ledger_events.
psp_object), one posting at a time and in a batch: matching reads our side from it, so it must
be what matching used to work out from the rows (migration 0050 backfills the same)."""
from __future__ import annotations

from sqlalchemy import select

from app.database import unit_of_work
from app.domain import ledger as rules
from app.extensions import db
from app.models.ledger import LedgerTransaction
from app.services.money import ledger
from app.services.reconciliation.ledger_events import psp_object


def stored(intent: str) -> tuple:
    return tuple(db.session.execute(select(
        LedgerTransaction.psp_provider, LedgerTransaction.psp_type, LedgerTransaction.psp_ref,
        LedgerTransaction.psp_net, LedgerTransaction.psp_fee)
        .where(LedgerTransaction.intent == intent)).one())


def test_post_stores_the_object_named_by_the_caller_or_by_the_intent(app):
    with unit_of_work():
        ledger.post(rules.give_back_captured("sandbox", "EUR", 1000, 30), "give_back:captured:1",
                    psp_ref="pi_1")
        ledger.post(rules.give_back_captured("sandbox", "EUR", 500, 20), "give_back:captured:2")
        ledger.post(rules.dispute_opened("stripe", "EUR", 700, 1500, {}),
                    "dispute_opened:stripe:dp_9")
        ledger.post(rules.give_back_refunded("sandbox", "EUR", 100), "give_back:refunded:3",
                    psp_ref="pi_3")
        ledger.post(rules.settled("sandbox", "EUR", 950), "settlement:sandbox:d:EUR:1")
    with unit_of_work():
        ledger.post_many([ledger.Intent(rules.give_back_captured("braintree", "USD", 800),
                                        "give_back:captured:4", psp_ref="bt_4")])
    assert stored("give_back:captured:1") == ("sandbox", "charge", "pi_1", 970, 30)
    # A caller that names no reference: the provider and amounts are stored, the reference is
    # worked out when matched (sides.ledger_objects), as it was before.
    assert stored("give_back:captured:2") == ("sandbox", "charge", None, 480, 20)
    assert stored("dispute_opened:stripe:dp_9")[:3] == ("stripe", "dispute", "dp_9")
    # Its object is the PSP's refund line, known only once that line is in: never stored.
    assert stored("give_back:refunded:3") == ("sandbox", "refund", None, -100, 0)
    # An event no settlement line reports (settling is reconciliation's own): nothing to match.
    assert stored("settlement:sandbox:d:EUR:1") == (None,) * 5
    assert stored("give_back:captured:4") == ("braintree", "charge", "bt_4", 800, 0)


def test_a_posting_that_moves_no_psp_or_two_psps_clearing_is_about_none():
    release = [{"account": "escrow:1", "kind": "escrow", "owner": "1", "amount": 100},
               {"account": "seller_available:7", "kind": "seller_available", "owner": "7",
                "amount": -100}]
    assert set(psp_object("capture", "capture:payment:1", release, "pi_1").values()) == {None}
    legs = [{"account": "psp_clearing:sandbox", "kind": "psp_clearing", "owner": "sandbox",
             "amount": -50},
            {"account": "psp_clearing:stripe", "kind": "psp_clearing", "owner": "stripe",
             "amount": 50}]
    assert set(psp_object("treasury_funding", "funding:1", legs).values()) == {None}
