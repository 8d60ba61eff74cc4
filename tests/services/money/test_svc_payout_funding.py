"""Treasury funding when a step is refused: a top-up the bank refuses moves nothing anywhere and
the payout is not sent (the money is the seller's again, funded afresh by the next run), and if
Stripe reports the refused top-up anyway its lines stand as differences; a collecting PSP that
refuses to repay the treasury holds the payout back until it does."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.domain.ledger import AccountKind
from app.extensions import db
from app.jobs.payouts import run_payouts
from app.models import LedgerTransaction, Payout
from app.models.payouts import FundingTransfer
from app.providers.base import ProviderError
from app.services.money import ledger, payout_funding, payouts
from app.services.money.ledger_checks import check_all
from tests.flows import login, psp_call, settle
from tests.services.money.test_svc_payout_rails import psp_payout, told
from tests.services.money.test_svc_stripe_connect import (
    SUPPORT,
    available,
    connected_seller_with_sale,
    fresh,
    stripe_fake,  # noqa: F401 (fixture)
)
from tests.services.reconciliation.recon_steps import (
    forget_psp_movements,
    open_differences,
    reconcile,
)


def clearing(provider: str) -> int:
    return ledger.balance(AccountKind.PSP_CLEARING, provider, "EUR")


def treasury_postings() -> list[str]:
    return list(db.session.execute(select(LedgerTransaction.intent).where(
        LedgerTransaction.event.in_(("treasury_funding", "treasury_sweep")))).scalars())


def adjust_sandbox(stack, amount: int) -> None:
    """Money the sandbox moved on its own (its balance changes, our ledger does not)."""
    answer = psp_call(stack["psp_url"], "POST", "/v1/test_helpers/balance_adjustments",
                      {"amount": amount, "currency": "eur", "description": "Correction"})
    assert answer.status_code == 200, answer.text


def test_a_refused_top_up_moves_nothing_and_the_payout_is_not_sent(
        client, people, stack, psp, stripe_fake):  # noqa: F811
    forget_psp_movements(psp)
    connected_seller_with_sale(client, people, stack, psp)
    collected = clearing("sandbox")
    stripe_fake.fail_topups = 1
    (payout_id,) = run_payouts()
    settle(psp)  # the submit job: the top-up is refused

    funding = db.session.execute(select(FundingTransfer)).scalar_one()
    (topup,) = stripe_fake.of_kind("topup")
    assert topup["status"] == "failed"
    assert (funding.status, funding.psp_reference, funding.sweep_reference) == (
        "failed", topup["id"], None)
    # Nothing moved: no treasury posting, no sweep out of the sandbox, no transfer at Stripe.
    assert treasury_postings() == []
    assert (clearing("sandbox"), clearing("stripe")) == (collected, 0)
    assert ledger.balance(AccountKind.TREASURY, "", "EUR") == 0
    assert stripe_fake.of_kind("transfer") == []
    from sandbox_psp.models import Payout as PspPayout
    with psp.app_context():
        assert PspPayout.query.count() == 0
    # The payout failed before it was sent: the money is the seller's again, and they are told.
    payout = fresh(Payout, payout_id)
    assert (payout.status, payout.failure_code, payout.psp_reference) == (
        "failed", "topup_failed", None)
    assert available(people) == 4320
    assert told(people) == ["Your payout of €43.20 failed"]
    login(client, "seller")
    page = client.get("/seller/balances").get_data(as_text=True)
    assert "We could not move the money to your payout provider in time." in page
    assert "Update bank account" not in page  # nothing wrong with their bank
    assert check_all() == []
    # A retry after the refusal was recorded is refused again without asking Stripe.
    with pytest.raises(ProviderError, match="could not fund"):
        payout_funding.execute(payout_id, SUPPORT)
    assert len(stripe_fake.of_kind("topup")) == 1
    assert payouts.submit(payout_id, SUPPORT).status == "failed"

    # The next payout books the balance again, funds it afresh (a new key) and pays it.
    again = payouts.book_payout(people["seller"], "EUR", SUPPORT, manual=True)
    assert payouts.submit(again, SUPPORT).status == "paid"
    retry = db.session.execute(select(FundingTransfer).where(
        FundingTransfer.payout_id == again)).scalar_one()
    assert retry.status == "succeeded" and retry.idempotency_key != funding.idempotency_key
    assert (clearing("sandbox"), clearing("stripe")) == (collected - 4320, 0)
    assert check_all() == []


def test_a_refused_top_up_stripe_reports_anyway_stands_as_a_difference(
        client, people, stack, psp, stripe_fake):  # noqa: F811
    forget_psp_movements(psp)
    connected_seller_with_sale(client, people, stack, psp)
    stripe_fake.fail_topups = 1
    run_payouts()
    settle(psp)
    funding = db.session.execute(select(FundingTransfer)).scalar_one()

    reconcile("stripe")
    # Stripe booked the top-up and its reversal; we booked nothing: money moved at Stripe on
    # nothing our ledger holds, in and out again.
    found = sorted((d.kind, d.type, d.source, d.psp_net) for d in open_differences())
    assert found == [("unknown_object", "topup", funding.psp_reference, 4320),
                     ("unknown_object", "topup_reversal", funding.psp_reference, -4320)]
    assert clearing("stripe") == 0


def test_a_payout_waits_while_the_collecting_psp_refuses_to_repay_the_treasury(
        client, people, stack, psp, stripe_fake):  # noqa: F811
    forget_psp_movements(psp)
    connected_seller_with_sale(client, people, stack, psp)
    payout_id = payouts.book_payout(people["seller"], "EUR", SUPPORT, manual=True)
    # The sandbox's own balance falls short of what our ledger says it holds (the suite's
    # sandbox holds other tests' captures too: take all but 1.00 of the payout's).
    held = {b["currency"]: b["amount"] for b in psp_call(
        stack["psp_url"], "GET", "/v1/balance").json()["available"]}["eur"]
    short = held - 4320 + 100
    adjust_sandbox(stack, -short)
    with pytest.raises(payout_funding.SweepRefused, match="refused to pay the treasury back"):
        payouts.submit(payout_id, SUPPORT)
    funding = fresh(FundingTransfer, db.session.execute(select(FundingTransfer.id)).scalar_one())
    # Stripe was topped up (posted), the treasury's advance is not repaid, nothing was sent.
    assert (funding.status, funding.sweep_reference) == ("topped_up", None)
    assert clearing("stripe") == 4320
    assert ledger.balance(AccountKind.TREASURY, "", "EUR") == -4320
    assert fresh(Payout, payout_id).status == "pending" and stripe_fake.of_kind("transfer") == []
    assert check_all() == []  # an advance in flight is not a leak

    assert funding.sweep_attempts == 1  # the refusal is saved with its key: the next is new

    adjust_sandbox(stack, short)  # the sandbox holds it again: the retry repays and pays once
    assert payouts.submit(payout_id, SUPPORT).status == "paid"
    funding = fresh(FundingTransfer, funding.id)
    assert (funding.status, funding.sweep_attempts) == ("succeeded", 1)
    assert psp_payout(psp, funding.sweep_reference)["amount"] == 4320
    assert len(stripe_fake.of_kind("topup")) == 1
    assert clearing("stripe") == 0 and ledger.balance(AccountKind.TREASURY, "", "EUR") == 0
    assert check_all() == []
