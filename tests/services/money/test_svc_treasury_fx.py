"""A USD seller paid out of a sale the buyer paid in EUR (issue 17): the platform holds only
EUR at the sandbox for it, so the payout's booking converts EUR into USD there at the rate
frozen on the order, once per key; the sandbox then pays the seller in USD, and every currency
of the ledger still balances."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.domain.ledger import AccountKind
from app.extensions import db
from app.models import AuditRecord, LedgerTransaction, Order
from app.models.payouts import Payout, TreasuryConversion
from app.providers.base import ProviderError
from app.providers.sandbox import mapping
from app.services.audit import Actor
from app.services.money import ledger, payout_funding, payouts
from app.services.money.ledger_checks import check_all
from tests.blueprints.money_steps import add_bank_account, holds, release, settle_payouts
from tests.flows import add, login, psp_call
from tests.services.checkout.test_svc_converted_checkout import (  # noqa: F401  (fixture)
    pay,
    per_currency_sums,
    place,
    rates,
    set_country,
)
from tests.services.money.test_svc_payout_faults import executions

SELLER = Actor("seller@test.example", "127.0.0.1")
# The board: 59.00 USD bought with 54.38 EUR at the order's mid rate (test_svc_converted_checkout).
AT_MID, SETTLED = 5438, 5900


def converted_sale(client, people, stack, psp) -> Order:
    """The mixed cart (24.00 EUR mug + 59.00 USD board) paid in EUR, both lines released."""
    set_country(people["buyer"], "DE")
    login(client, "buyer")
    add(client, people["mug"])
    add(client, people["board"])
    payment = pay(client, stack, psp, place(client))
    order = db.session.get(Order, payment.order_id)
    for hold in holds(order.id).values():
        release(hold.id)
    add_bank_account(people["seller"])
    return order


def available(people, currency: str) -> int:
    return ledger.balance(AccountKind.SELLER_AVAILABLE, str(people["seller"]), currency)


@pytest.mark.usefixtures("rates")
def test_a_usd_payout_of_a_sale_paid_in_eur_converts_once_and_pays_in_usd(
        client, people, stack, psp):
    converted_sale(client, people, stack, psp)
    due = available(people, "USD")
    assert 0 < due < SETTLED  # 59.00 less the platform fee
    assert ledger.held_at_psp("sandbox", "USD") == 0  # nothing but EUR came in

    payout_id = payouts.book_payout(people["seller"], "USD", SELLER, manual=True)
    conversion = db.session.execute(select(TreasuryConversion).where(
        TreasuryConversion.payout_id == payout_id)).scalar_one()
    # At the order's frozen rate (54.38 EUR for 59.00 USD), half up.
    sold = (due * AT_MID * 2 + SETTLED) // (2 * SETTLED)
    assert (conversion.provider, conversion.status) == ("sandbox", "pending")
    assert (conversion.sold_currency, conversion.sold_amount) == ("EUR", sold)
    assert (conversion.bought_currency, conversion.bought_amount) == ("USD", due)

    # The PSP converts, then every answer is lost: the retry converts nothing more.
    psp_call(stack["psp_url"], "POST", "/v1/test_helpers/faults",
             {"fault": "5xx_after", "count": 10, "path": "/v1/conversions", "method": "POST"})
    with pytest.raises(ProviderError):
        payouts.submit(payout_id, SELLER)
    psp_call(stack["psp_url"], "DELETE", "/v1/test_helpers/faults")
    db.session.expire_all()
    assert db.session.get(Payout, payout_id).status == "pending"  # not sent unconverted
    payouts.submit(payout_id, SELLER)
    payouts.submit(payout_id, SELLER)  # the job runs twice
    payout_funding.execute(payout_id, SELLER)
    settle_payouts(psp)

    db.session.expire_all()
    payout = db.session.get(Payout, payout_id)
    conversion = db.session.get(TreasuryConversion, conversion.id)
    assert payout.status == "paid" and conversion.status == "succeeded"
    # The sandbox's own records: one conversion EUR → USD, one payout in USD.
    at_psp = psp_call(stack["psp_url"], "GET",
                      f"/v1/conversions/{conversion.psp_reference}").json()
    assert (at_psp["sell_currency"], at_psp["sell_amount"]) == ("eur", sold)
    assert (at_psp["buy_currency"], at_psp["buy_amount"]) == ("usd", due)
    paid = psp_call(stack["psp_url"], "GET", f"/v1/payouts/{payout.psp_reference}").json()
    assert (paid["currency"], paid["amount"], paid["status"]) == ("usd", due, "paid")
    assert executions(stack, conversion.idempotency_key) == 1
    assert executions(stack, payout.idempotency_key) == 1
    # The sandbox outlives one test: its payouts for this payout's key, one, in USD.
    ours = [p for p in psp_call(stack["psp_url"], "GET", "/v1/payouts?limit=100").json()["data"]
            if p["metadata"].get(mapping.PAYOUT_REFERENCE) == payout.idempotency_key]
    assert [p["currency"] for p in ours] == ["usd"]

    # Per currency: the EUR left the PSP's holding and the position, the USD came and went.
    assert ledger.held_at_psp("sandbox", "USD") == 0
    assert ledger.balance(AccountKind.FX_CONVERSION, "", "USD") == -(SETTLED - due)  # the fee
    assert ledger.balance(AccountKind.FX_CONVERSION, "", "EUR") == AT_MID - sold
    assert available(people, "USD") == 0
    intents = set(db.session.execute(select(LedgerTransaction.intent).where(
        LedgerTransaction.event == "treasury_conversion")).scalars())
    assert intents == {f"conversion:{conversion.id}:EUR", f"conversion:{conversion.id}:USD"}
    assert set(per_currency_sums().values()) == {0}
    assert check_all() == []
    audit = db.session.execute(select(AuditRecord).where(
        AuditRecord.action == "treasury.converted")).scalars().all()
    assert len(audit) == 1 and audit[0].target == f"payout:{payout_id}"

    # Asked again: nothing is due, nothing is converted or paid a second time.
    assert payouts.book_payout(people["seller"], "USD", SELLER, manual=True) is None
    assert db.session.execute(select(TreasuryConversion)).scalars().all() == [conversion]


@pytest.mark.usefixtures("rates")
def test_the_eur_seller_is_still_paid_from_what_the_conversion_left(client, people, stack, psp):
    converted_sale(client, people, stack, psp)
    usd = payouts.book_payout(people["seller"], "USD", SELLER, manual=True)
    eur = payouts.book_payout(people["seller"], "EUR", SELLER, manual=True)
    for payout_id in (usd, eur):
        payouts.submit(payout_id, SELLER)
    found = {p.currency: p for p in settle_payouts(psp)}
    assert found["USD"].status == found["EUR"].status == "paid"
    # The EUR payout (the mug less its fee) is no conversion: only the USD one has one.
    assert [c.payout_id for c in db.session.execute(select(TreasuryConversion)).scalars()] == [usd]
    assert ledger.held_at_psp("sandbox", "EUR") >= 0
    assert check_all() == []

