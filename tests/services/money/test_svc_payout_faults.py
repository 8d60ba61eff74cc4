"""Payouts under PSP faults (issue 11 §1.2, §1.8): a retry carries the parameters frozen at
booking, an idempotency error is never "failed", and a payout that comes back after "paid" or
disagrees with us on the amount is handled, not ignored."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.domain.ledger import AccountKind
from app.extensions import db
from app.models import AuditRecord, EscrowHold
from app.models.payouts import Payout
from app.providers.base import ProviderError, ProviderPayout
from app.services.audit import Actor
from app.services.money import bank_accounts, escrow, ledger, payouts
from app.services.money.ledger_checks import check_all
from tests.blueprints.money_steps import settle_payouts
from tests.flows import PASSWORD, paid_order, psp_call

SUPPORT = Actor("support@test.example", "127.0.0.1")
GOOD_IBAN = "DE89370400440532013000"
OTHER_IBAN = "GB82WEST12345698765432"


def booked(client, people, stack, psp) -> int:
    """A released mug (€21.60 available) and a manual payout of it, not yet sent."""
    seller = people["seller"]
    order_id = paid_order(client, people, stack, psp, {"mug": 1})
    hold = db.session.execute(select(EscrowHold).where(
        EscrowHold.order_id == order_id)).scalar_one()
    escrow.support_decide(hold.id, "release", SUPPORT)
    bank_accounts.register_or_change(seller, PASSWORD, "Northwind", SUPPORT, iban=GOOD_IBAN)
    return payouts.book_payout(seller, "EUR", SUPPORT, manual=True)


def available(people) -> int:
    return ledger.balance(AccountKind.SELLER_AVAILABLE, str(people["seller"]), "EUR")


def executions(stack, key: str) -> int:
    return psp_call(stack["psp_url"], "GET", "/v1/_stats").json()["executions"].get(key, 0)


def fresh(payout_id: int) -> Payout:
    db.session.commit()
    db.session.expire_all()
    return db.session.get(Payout, payout_id)


def test_a_retry_after_the_seller_changed_bank_account_pays_once(client, people, stack, psp):
    payout_id = booked(client, people, stack, psp)
    psp_call(stack["psp_url"], "POST", "/v1/test_helpers/faults",
             {"fault": "5xx_after", "count": 10, "path": "/v1/payouts", "method": "POST"})
    with pytest.raises(ProviderError):
        payouts.submit(payout_id, SUPPORT)  # executed at the PSP; every answer was a 500
    psp_call(stack["psp_url"], "DELETE", "/v1/test_helpers/faults")
    bank_accounts.register_or_change(people["seller"], PASSWORD, "Northwind", SUPPORT,
                                     iban=OTHER_IBAN)

    payout = payouts.submit(payout_id, SUPPORT)  # the job's retry, same key

    assert payout.status == "in_transit" and payout.destination_last4 == GOOD_IBAN[-4:]
    assert executions(stack, payout.idempotency_key) == 1
    assert available(people) == 0
    assert payouts.book_payout(people["seller"], "EUR", SUPPORT, manual=True) is None


def test_an_idempotency_error_is_never_a_failed_payout(client, people, stack, psp):
    payout_id = booked(client, people, stack, psp)
    key = db.session.get(Payout, payout_id).idempotency_key
    # The key was used before with other parameters (whatever that request did stands).
    psp_call(stack["psp_url"], "POST", "/v1/payouts",
             {"amount": 1, "currency": "eur", "destination": {"iban": GOOD_IBAN},
              "holder_name": "x"}, key=key)

    payout = payouts.submit(payout_id, SUPPORT)

    assert payout.status == "pending" and payout.needs_review
    assert "idempotency" in payout.review_reason
    assert available(people) == 0  # the money did not come back to be paid again


def paid(client, people, stack, psp) -> Payout:
    payout_id = booked(client, people, stack, psp)
    payouts.submit(payout_id, SUPPORT)
    settle_payouts(psp)
    payout = fresh(payout_id)
    assert payout.status == "paid"
    return payout


def test_a_payout_returned_after_paid_gives_the_seller_back_the_money(client, people, stack,
                                                                     psp):
    payout = paid(client, people, stack, psp)
    returned = ProviderPayout(payout.psp_reference, "failed", payout.amount, "EUR",
                              "account_closed", "The account was closed.")

    payouts.apply_result(payout.id, returned, SUPPORT)
    payouts.apply_result(payout.id, returned, SUPPORT)  # the webhook and the sweep: once

    payout = fresh(payout.id)
    assert payout.status == "returned" and payout.returned_at
    assert available(people) == 2160
    assert check_all() == []


def test_a_payout_amount_mismatch_is_flagged_once(client, people, stack, psp):
    payout = paid(client, people, stack, psp)
    wrong = ProviderPayout(payout.psp_reference, "paid", payout.amount - 1, "EUR", None, None)

    payouts.apply_result(payout.id, wrong, SUPPORT)
    payouts.apply_result(payout.id, wrong, SUPPORT)

    payout = fresh(payout.id)
    assert payout.needs_review and "€21.59" in payout.review_reason
    assert db.session.execute(select(func.count()).select_from(AuditRecord).where(
        AuditRecord.action == "payout.needs_review")).scalar_one() == 1


def test_a_payout_returned_with_its_webhook_lost_is_found_by_the_sweep(client, people, stack,
                                                                      psp):
    """Found by the simulation: nothing revisited a PAID payout after its webhook."""
    from datetime import timedelta

    from app.clock import now
    from app.jobs.payouts import sweep_in_transit

    payout = paid(client, people, stack, psp)
    psp_call(stack["psp_url"], "POST", f"/v1/test_helpers/payouts/{payout.psp_reference}/return")
    payout.settled_at = now() - timedelta(days=2)  # its payout.failed webhook is lost
    db.session.commit()

    sweep_in_transit()

    assert fresh(payout.id).status == "returned"
    assert available(people) == 2160
