"""A treasury conversion reconciles (issues 13 and 17): the USD payout of a sale paid in EUR
converts EUR into USD at the sandbox, which reports one balance line per currency; each leg
matches its own posting, so after the day's import nothing is left to resolve."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.domain.ledger import AccountKind
from app.extensions import db
from app.models.payouts import TreasuryConversion
from app.models.reconciliation import SettlementLine
from app.services.money import ledger, payouts
from app.services.money.ledger_checks import check_all
from tests.blueprints.money_steps import settle_payouts
from tests.services.checkout.test_svc_converted_checkout import rates  # noqa: F401  (fixture)
from tests.services.money.test_svc_treasury_fx import SELLER, converted_sale
from tests.services.reconciliation.recon_steps import (
    forget_psp_movements,
    open_differences,
    reconcile,
)


@pytest.fixture(autouse=True)
def _own_sandbox_day(psp):
    forget_psp_movements(psp)


@pytest.mark.usefixtures("rates")
def test_both_legs_of_a_conversion_match_and_nothing_is_unresolved(client, people, stack, psp):
    converted_sale(client, people, stack, psp)
    usd = payouts.book_payout(people["seller"], "USD", SELLER, manual=True)
    eur = payouts.book_payout(people["seller"], "EUR", SELLER, manual=True)
    for payout_id in (usd, eur):
        payouts.submit(payout_id, SELLER)
    assert {p.status for p in settle_payouts(psp)} == {"paid"}
    conversion = db.session.execute(select(TreasuryConversion)).scalar_one()

    row = reconcile()
    assert row.status == "done"
    legs = db.session.execute(select(SettlementLine.source, SettlementLine.currency,
                                     SettlementLine.net, SettlementLine.settlement_txn_id)
                              .where(SettlementLine.type == "conversion")).all()
    assert sorted((source, currency, net) for source, currency, net, _ in legs) == [
        (f"{conversion.psp_reference}:EUR", "EUR", -conversion.sold_amount),
        (f"{conversion.psp_reference}:USD", "USD", conversion.bought_amount)]
    # Agreeing lines are settled out of clearing per currency; the USD ones net to zero (the
    # conversion bought what the payout paid), so there is nothing to post for them.
    assert {(currency, settled is not None) for _, currency, _, settled in legs} == {
        ("EUR", True), ("USD", False)}
    assert [(d.kind, d.type, d.source) for d in open_differences()] == []
    assert ledger.balance(AccountKind.PSP_CLEARING, "sandbox", "USD") == 0
    assert check_all() == []
