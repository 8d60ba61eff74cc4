"""A seller's payout on Braintree: a credit on their sub-merchant account, made once per key,
paid when Braintree disburses it and failed by a disbursement exception; the disbursement
webhooks name the credit among their transactions."""
from __future__ import annotations

import pytest

from app.providers.base import EventKind
from tests.providers.braintree.test_braintree_adapter import key

ACCOUNT = {"merchant_account_id": "northwind_pottery_eur"}


@pytest.mark.parametrize("disbursed", [True, False])
def test_a_credit_is_paid_on_its_disbursement_or_failed_by_its_exception(bt, disbursed):
    ours = key()
    payout = bt.provider().create_payout(4320, "EUR", ACCOUNT, "", ours)
    credit = bt.fake.transactions[payout.reference]
    assert (credit["type"], credit["merchant_account_id"], credit["amount"]) == (
        "credit", "northwind_pottery_eur", "43.20")
    assert (payout.status, payout.amount, payout.currency) == ("in_transit", 4320, "EUR")
    assert bt.provider().create_payout(4320, "EUR", ACCOUNT, "", ours) == payout
    assert bt.fake.executions[ours] == 1

    raw = bt.fake.disburse([payout.reference], success=disbursed)
    event = bt.provider().parse_webhook(raw, {})
    assert event.kind == EventKind.PAYOUT and event.related == (payout.reference,)
    assert event.type == ("disbursement" if disbursed else "disbursement_exception")
    again = bt.provider().stored_event(event.event_id, event.type, event.object_id,
                                       event.payload)
    assert again.related == (payout.reference,)
    settled = bt.provider().retrieve_payout(payout.reference)
    if disbursed:
        assert settled.status == "paid"
    else:
        assert (settled.status, settled.failure_code) == ("failed", "disbursement_exception")
