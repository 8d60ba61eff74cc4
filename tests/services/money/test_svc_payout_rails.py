"""Payouts on real rails: the rail is configuration per seller; Stripe Connect pays through the
connected account's own bank payout (and its Connect webhooks, payout.failed included);
Braintree through a credit on the seller's sub-merchant account and its disbursement webhooks;
money collected at one PSP and paid out at another moves through the treasury; and a failed
or returned payout on any rail is the seller's again, and they are told."""
from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import select

from app.domain.ledger import AccountKind
from app.extensions import db
from app.jobs.payouts import run_payouts
from app.models import AuditRecord, EscrowHold, LedgerTransaction, Notification, Payout
from app.models.payouts import FundingTransfer
from app.services import webhooks
from app.services.audit import Actor
from app.services.errors import Conflict, ServiceError
from app.services.money import bank_accounts, escrow, ledger, payout_funding, payout_rails, payouts
from tests import flows
from tests.fakes.braintree.wiring import braintree_on
from tests.fakes.stripe import sign
from tests.fakes.stripe.controls import settle_payout
from tests.fakes.stripe.wiring import stripe_on
from tests.flows import PASSWORD, run_jobs, settle
from tests.services.money.test_svc_stripe_connect import (
    API_KEY,
    SUPPORT,
    WEBHOOK_SECRET,
    available,
    connected_seller_with_sale,
    fresh,
    intents,
)

K = AccountKind
ADMIN = Actor("admin@test.example", "127.0.0.1")
SUB_MERCHANT = "northwind_pottery_eur"


@pytest.fixture
def stripe_fake(app):
    with stripe_on(app, API_KEY, WEBHOOK_SECRET) as fake:
        yield fake


@pytest.fixture
def bt(app, serve_wsgi):
    """A fake Braintree configured next to the sandbox (payments stay on the sandbox unless a
    test routes them)."""
    with braintree_on(app, serve_wsgi) as (gateway, _url):
        yield gateway


def clearing(provider: str, currency: str = "EUR") -> int:
    return ledger.balance(K.PSP_CLEARING, provider, currency)


def released_sale(client, people, stack, psp) -> int:
    """Two mugs paid at the sandbox and released: €43.20 available to the seller."""
    order_id = flows.paid_order(client, people, stack, psp, {"mug": 2})
    hold = db.session.execute(select(EscrowHold).where(EscrowHold.order_id == order_id)
                              .where(EscrowHold.seller_id == people["seller"])).scalar_one()
    escrow.support_decide(hold.id, "release", SUPPORT)
    return order_id


def deliver_stripe(fake, event: dict) -> dict:
    """POST one of the fake's events to the platform's Stripe webhook, then run the jobs."""
    raw = json.dumps(event).encode()
    receipt = webhooks.receive("stripe", raw, {
        "Stripe-Signature": sign(WEBHOOK_SECRET, raw, int(time.time()))})
    assert receipt.status == 200, receipt.body
    run_jobs()
    return receipt.body


def told(people) -> list[str]:
    return list(db.session.execute(select(Notification.subject).where(
        Notification.user_id == people["seller"], Notification.kind == "payout_failed")
        .order_by(Notification.id)).scalars())


# --- the rail is configuration --------------------------------------------------------------

def test_an_admin_sets_a_sellers_rail_and_it_is_audited(app, people, bt):
    seller = people["seller"]
    assert payout_rails.chosen(seller) is None
    with pytest.raises(ServiceError, match="Choose one of"):
        payout_rails.set_rail(seller, "paypal", ADMIN)
    with pytest.raises(ServiceError, match="merchant account id"):
        payout_rails.set_rail(seller, "braintree", ADMIN)
    with pytest.raises(ServiceError, match="not configured"):
        payout_rails.set_rail(seller, "stripe", ADMIN)  # no Stripe keys in this test
    payout_rails.set_rail(seller, "braintree", ADMIN, account_ref=SUB_MERCHANT)
    assert payout_rails.chosen(seller) == "braintree"
    where = payout_rails.destination(seller, "EUR")
    assert (where.provider, where.account_ref) == ("braintree", SUB_MERCHANT)
    with pytest.raises(ServiceError, match="another seller"):
        payout_rails.set_rail(people["other_seller"], "braintree", ADMIN,
                              account_ref=SUB_MERCHANT)
    payout_rails.set_rail(seller, "", ADMIN)  # back to the default: the bank via the sandbox
    assert payout_rails.chosen(seller) is None
    details = [json.loads(r.details) for r in db.session.execute(select(AuditRecord).where(
        AuditRecord.action == "payout.rail_changed").order_by(AuditRecord.id)).scalars()]
    assert [(d["rail"], d["previous"]) for d in details] == [("braintree", "default"),
                                                              ("default", "braintree")]


# --- Stripe Connect: transfer, then the connected account's payout to its bank --------------

def test_a_connected_accounts_payout_failed_webhook_gives_the_money_back(
        client, people, stack, psp, stripe_fake):
    stripe_fake.instant_payouts = False
    account, _ = connected_seller_with_sale(client, people, stack, psp)
    (payout_id,) = run_payouts()
    settle(psp)
    payout = fresh(Payout, payout_id)
    (bank_payout,) = stripe_fake.of_kind("payout")
    assert (payout.status, payout.rail_reference) == ("in_transit", bank_payout["id"])
    assert stripe_fake.extras[bank_payout["id"]]["account"] == account
    assert bank_payout["metadata"] == {"holdfast_payout": payout.idempotency_key}
    assert available(people) == 0

    settle_payout(stripe_fake, bank_payout["id"], "failed", "account_closed")
    failed = stripe_fake.events_of("payout.failed")[-1]
    assert failed["account"] == account  # a Connect event names the connected account
    deliver_stripe(stripe_fake, failed)
    deliver_stripe(stripe_fake, failed)  # a duplicate changes nothing

    payout = fresh(Payout, payout_id)
    assert (payout.status, payout.failure_code) == ("failed", "account_closed")
    assert "closed" in payout.failure_message
    assert available(people) == 4320
    assert told(people) == ["Your payout of €43.20 failed"]
    # The money sat in the connected account: the transfer is reversed back, once.
    transfer = stripe_fake.objects[payout.psp_reference]
    assert transfer["amount_reversed"] == 4320
    assert len(stripe_fake.of_kind("transfer_reversal")) == 1
    assert sorted(intents("payout:")) == [f"payout:failed:{payout_id}",
                                          f"payout:sent:{payout_id}"]
    assert clearing("stripe") == 4320  # topped up for it, and the money came back


def test_a_connected_payout_the_bank_returns_after_paid_is_returned(
        client, people, stack, psp, stripe_fake):
    connected_seller_with_sale(client, people, stack, psp)
    (payout_id,) = run_payouts()
    settle(psp)
    payout = fresh(Payout, payout_id)
    assert payout.status == "paid"  # the fake's bank paid at once
    assert clearing("stripe") == 0
    settle_payout(stripe_fake, payout.rail_reference, "failed", "no_account")
    deliver_stripe(stripe_fake, stripe_fake.events_of("payout.failed")[-1])
    payout = fresh(Payout, payout_id)
    assert payout.status == "returned" and payout.returned_at is not None
    assert available(people) == 4320
    assert told(people) == ["Your payout of €43.20 came back"]
    assert stripe_fake.objects[payout.psp_reference]["amount_reversed"] == 4320
    assert clearing("stripe") == 4320


def test_the_platforms_own_payout_events_are_not_a_sellers(client, people, stripe_fake):
    event = stripe_fake.emit("payout.paid", {"id": "po_platform", "object": "payout",
                                             "metadata": {}})
    body = deliver_stripe(stripe_fake, event)
    assert body == {"received": True}
    assert db.session.execute(select(Payout)).first() is None


# --- treasury: collected at the sandbox, paid out through Stripe ------------------------------

def test_money_collected_at_one_psp_and_paid_at_another_moves_through_the_treasury(
        client, people, stack, psp, stripe_fake):
    connected_seller_with_sale(client, people, stack, psp)
    collected = clearing("sandbox")
    payout_id = payouts.book_payout(people["seller"], "EUR", SUPPORT, manual=True)
    (funding,) = db.session.execute(select(FundingTransfer)).scalars().all()
    assert (funding.from_provider, funding.to_provider, funding.amount, funding.status) == (
        "sandbox", "stripe", 4320, "pending")
    # Nothing moved in the books yet: both clearings as they were, neither below zero.
    assert (clearing("sandbox"), clearing("stripe")) == (collected, 0)

    payouts.submit(payout_id, SUPPORT)
    payouts.submit(payout_id, SUPPORT)  # a retried job tops up, repays and posts once
    funding = fresh(FundingTransfer, funding.id)
    (topup,) = stripe_fake.of_kind("topup")
    assert (funding.status, funding.psp_reference) == ("succeeded", topup["id"])
    assert topup["metadata"] == {"holdfast_funding": funding.idempotency_key}
    # The sandbox paid the platform's own bank back: a payout with no destination.
    sweep = psp_payout(psp, funding.sweep_reference)
    assert (sweep["amount"], sweep["destination"]["type"]) == (4320, "platform_account")
    assert sweep["metadata"] == {"holdfast_funding": f"{funding.idempotency_key}-sweep"}
    postings = {txn.event: txn for txn in db.session.execute(select(LedgerTransaction).where(
        LedgerTransaction.event.in_(("treasury_funding", "treasury_sweep")))).scalars()}
    assert postings["treasury_funding"].intent == f"treasury_funding:stripe:{topup['id']}"
    assert postings["treasury_sweep"].intent == f"treasury_sweep:sandbox:{sweep['id']}"
    # Each posting moves one PSP's clearing, by what that PSP reports.
    assert sorted((e.account, e.amount) for e in postings["treasury_funding"].entries) == [
        ("psp_clearing:stripe", 4320), ("treasury", -4320)]
    assert sorted((e.account, e.amount) for e in postings["treasury_sweep"].entries) == [
        ("psp_clearing:sandbox", -4320), ("treasury", 4320)]
    assert fresh(Payout, payout_id).status == "paid"
    assert clearing("sandbox") == collected - 4320 >= 0
    assert clearing("stripe") == 0
    assert ledger.balance(K.TREASURY, "", "EUR") == 0
    assert [f.id for f in payout_funding.transfers()] == [funding.id]


def psp_payout(psp, payout_id: str) -> dict:
    """A payout as the sandbox's API shows it."""
    from sandbox_psp.models import Payout as PspPayout
    from sandbox_psp.models import db as psp_db

    with psp.app_context():
        return psp_db.session.execute(psp_db.select(PspPayout).filter_by(id=payout_id)
                                      ).scalar_one().to_dict()


def test_a_payout_no_psp_can_fund_is_not_booked(client, people, stack, psp, bt):
    released_sale(client, people, stack, psp)  # collected at the sandbox
    payout_rails.set_rail(people["seller"], "braintree", ADMIN, account_ref=SUB_MERCHANT)
    with pytest.raises(Conflict, match="cannot be sent yet"):
        payouts.book_payout(people["seller"], "EUR", SUPPORT, manual=True)
    assert run_payouts() == []
    assert db.session.execute(select(Payout)).first() is None
    assert available(people) == 4320
    assert clearing("braintree") == 0


# --- Braintree: a credit on the seller's sub-merchant account, then its disbursement ---------

def braintree_sale(people, gateway, tmp_path, app) -> None:
    """Two mugs and a candle paid on Braintree and settled; the seller's mugs released."""
    from tests.services.money.test_svc_money_on_braintree import paid

    saved = app.config.get("ROUTING_FILE")
    app.config["ROUTING_FILE"] = str(flows.route_all_to("braintree", tmp_path))
    try:
        payment = paid(people, gateway)
    finally:
        app.config["ROUTING_FILE"] = saved
    hold = db.session.execute(select(EscrowHold).where(
        EscrowHold.order_id == payment.order_id,
        EscrowHold.seller_id == people["seller"])).scalar_one()
    escrow.support_decide(hold.id, "release", SUPPORT)


def post_braintree(raw: bytes) -> None:
    receipt = webhooks.receive("braintree", raw, {
        "Content-Type": "application/x-www-form-urlencoded"})
    assert receipt.status == 200, receipt.body
    run_jobs()


@pytest.mark.parametrize("disbursed", [True, False])
def test_a_braintree_payout_settles_on_its_disbursement_or_exception(
        app, people, bt, tmp_path, disbursed):
    braintree_sale(people, bt, tmp_path, app)
    payout_rails.set_rail(people["seller"], "braintree", ADMIN, account_ref=SUB_MERCHANT)
    (payout_id,) = run_payouts()
    run_jobs()
    payout = fresh(Payout, payout_id)
    credit = bt.transactions[payout.psp_reference]
    assert (credit["type"], credit["merchant_account_id"], credit["amount"]) == (
        "credit", SUB_MERCHANT, "43.20")
    assert (payout.provider, payout.status) == ("braintree", "in_transit")
    assert bt.executions[payout.idempotency_key] == 1

    # The disbursement names our credit among the platform's other transactions.
    sale = next(t for t in bt.transactions.values() if t["type"] == "sale")
    raw = bt.disburse([sale["id"], payout.psp_reference], success=disbursed)
    post_braintree(raw)
    post_braintree(raw)  # Braintree retries: the same notification changes nothing

    payout = fresh(Payout, payout_id)
    if disbursed:
        assert payout.status == "paid" and available(people) == 0
        assert told(people) == []
        assert clearing("braintree") >= 0
    else:
        assert (payout.status, payout.failure_code) == ("failed", "disbursement_exception")
        assert available(people) == 4320
        assert told(people) == ["Your payout of €43.20 failed"]
    assert len([t for t in bt.transactions.values() if t["type"] == "credit"]) == 1


# --- production without the sandbox -------------------------------------------------------

def test_without_the_sandbox_configured_nobody_is_paid_through_it(app, client, people):
    bank_accounts.register_or_change(people["seller"], PASSWORD, "Northwind", SUPPORT,
                                     iban="DE89370400440532013000")
    assert payout_rails.destination(people["seller"], "EUR").provider == "sandbox"
    caches = [app.extensions.setdefault(n, {}) for n in ("holdfast_providers",
                                                          "holdfast_unconfigured")]
    app.config["SANDBOX_ENABLED"] = False
    for cache in caches:
        cache.pop("sandbox", None)
        cache.pop("sandbox_us", None)
    try:
        assert payout_rails.destination(people["seller"], "EUR") is None
        answer = client.post("/webhooks/sandbox", data=b"{}",
                             headers={"Content-Type": "application/json"})
        assert answer.status_code == 404
    finally:
        app.config["SANDBOX_ENABLED"] = True
        for cache in caches:
            cache.pop("sandbox", None)
            cache.pop("sandbox_us", None)


def test_the_ledger_check_names_a_funding_without_its_posting(client, people, stack, psp,
                                                              stripe_fake):
    from app.services.money.ledger_checks import fundings_posted

    connected_seller_with_sale(client, people, stack, psp)
    payout_id = payouts.book_payout(people["seller"], "EUR", SUPPORT, manual=True)
    (funding,) = db.session.execute(select(FundingTransfer)).scalars().all()
    assert fundings_posted() == []  # pending: nothing posted yet, as it should be
    funding.status = "succeeded"  # as if the top-up went through and its posting was lost
    db.session.commit()
    assert fundings_posted() == [
        f"funding {funding.id} (succeeded, 4320): treasury_funding posting missing",
        f"funding {funding.id} (succeeded, 4320): treasury_sweep posting missing"]
    funding.status = "pending"
    db.session.commit()
    payouts.submit(payout_id, SUPPORT)
    assert fundings_posted() == []
    # Said to be still waiting for its repayment while it was repaid: both names the sweep's
    # posting and the treasury that no longer holds the advance.
    funding = fresh(FundingTransfer, funding.id)
    funding.status = "topped_up"
    db.session.commit()
    assert fundings_posted() == [
        f"funding {funding.id} (topped_up, 4320): treasury_sweep posting "
        f"treasury_sweep:sandbox:{funding.sweep_reference}",
        "treasury EUR: 4320 left in it (beyond 4320 advanced to fundings in flight)"]
    funding.status = "succeeded"
    db.session.commit()
    assert fundings_posted() == []
