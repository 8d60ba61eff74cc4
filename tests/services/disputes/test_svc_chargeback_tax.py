"""A lost chargeback on a taxed order: the tax in the amount the buyer's bank took is no longer
owed to the buyer's country. The per-country report shows the reduction in the period of the
loss, the platform's dispute loss is that much smaller, and every currency's ledger balances."""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from app.clock import now
from app.domain.ledger import AccountKind
from app.extensions import db
from app.models import LedgerEntry, Order, User
from app.services.audit import Actor
from app.services.money import ledger
from app.services.money.ledger_checks import check_all
from app.services.shop import tax
from tests.services.disputes.test_svc_chargebacks import case_of, close_at_psp, disputed_order

ADMIN = Actor("admin@test.example", "127.0.0.1")
K = AccountKind
# 2 mugs (48.00) + a candle (16.90) with German VAT 19 %: 9.12 + 3.21.
VAT = 912 + 321


def _report(day: date) -> dict:
    return {(r.country, r.currency): r for r in tax.report(day, day)}


def test_a_lost_chargeback_gives_up_the_tax_and_the_report_shows_it(app, people, stack, psp):
    tax.import_csv("DE,standard,19\n", ADMIN)
    db.session.get(User, people["buyer"]).country = "DE"
    db.session.commit()
    order_id = disputed_order(app, people, stack, psp)
    order = db.session.get(Order, order_id)
    assert order.tax_amount == VAT and order.total_amount == 4800 + 1690 + VAT
    today = now().date()
    assert _report(today)[("DE", "EUR")].net == VAT  # collected at capture

    case = case_of(order_id)
    assert case.amount == order.total_amount
    close_at_psp(stack, psp, case, "lost")
    case = case_of(order_id)
    assert case.status == "lost"
    # The lines cannot take a taxed order's chargeback: the platform bears the net sale, not
    # the tax, which is no longer owed to Germany.
    assert ledger.balance(K.TAX_PAYABLE, "DE", "EUR") == 0
    assert ledger.balance(K.DISPUTE_LOSSES, "", "EUR") == 4800 + 1690
    row = _report(today)[("DE", "EUR")]
    assert (row.collected, row.refunded, row.charged_back, row.net) == (VAT, 0, VAT, 0)
    assert "The tax in the charged-back amount" in " ".join(e.body for e in case.events)
    sums: dict[str, int] = {}
    for entry in db.session.execute(select(LedgerEntry)).scalars():
        sums[entry.currency] = sums.get(entry.currency, 0) + entry.amount
    assert set(sums.values()) == {0}
    assert check_all() == []

    # The reduction belongs to the period of the loss: a later period shows nothing.
    assert ("DE", "EUR") not in _report(today + timedelta(days=40))
    csv_text = tax.report_csv(today, today)
    assert csv_text.splitlines()[1].startswith(f"DE,EUR,{VAT},0,{VAT},0,")
