"""The admin dashboard's figures: money equals the ledger's sums for the range, rates count
the right payments, and a range outside the activity shows nothing."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.clock import now
from app.extensions import db
from app.models import LedgerEntry, LedgerTransaction
from app.services.errors import ServiceError
from app.services.refunds import refunds
from app.services.reporting import dashboard
from tests.blueprints.money_steps import SUPPORT, holds, paid_order, release


def _ledger(kind: str, currency: str, event: str | None = None) -> int:
    query = (select(func.coalesce(func.sum(LedgerEntry.amount), 0)).join(LedgerEntry.transaction)
             .where(LedgerEntry.kind == kind, LedgerEntry.currency == currency))
    if event:
        query = query.where(LedgerTransaction.event == event)
    return db.session.execute(query).scalar_one()


def _today(currency: str = "EUR") -> dashboard.Period:
    return dashboard.parse_period({"currency": currency})


def test_totals_equal_the_ledger_sums_for_the_range(app, people, stack, psp):
    order_id = paid_order(app, people, stack, psp)
    release(holds(order_id)["Mug"].id)
    report = dashboard.build(_today())
    t = report.totals
    assert t.gmv == -_ledger("escrow", "EUR", "capture") == 6490
    assert t.platform_fees == -_ledger("platform_fees", "EUR") == 480  # 10 % of the mugs
    assert t.psp_fees == _ledger("psp_fees", "EUR") > 0
    assert t.net_revenue == t.platform_fees - t.psp_fees
    assert report.escrow_held == -_ledger("escrow", "EUR") == 1690  # the candle still held
    assert sum(g for _, g, _, _ in report.daily) == t.gmv
    assert sum(f for _, _, f, _ in report.daily) == t.platform_fees
    assert sum(a.amount for a in report.escrow_ages) == 1690
    [by_psp] = report.auth_by_provider
    assert (by_psp.label, by_psp.hits, by_psp.total) == ("sandbox", 1, 1)
    assert [r.label for r in report.auth_by_mode] == ["hosted"]
    assert report.refunds.total == 1 and report.refunds.hits == 0


def test_a_range_before_the_activity_shows_nothing_and_other_currencies_stay_apart(
        app, people, stack, psp):
    paid_order(app, people, stack, psp)
    last_week = (now() - timedelta(days=7)).date()
    old = dashboard.build(dashboard.parse_period({
        "from": (last_week - timedelta(days=60)).isoformat(), "to": last_week.isoformat()}))
    assert old.totals.gmv == 0 and old.auth_by_provider == [] and sum(
        g for _, g, _, _ in old.daily) == 0
    assert dashboard.build(_today("USD")).totals.gmv == 0
    assert old.escrow_held == 0  # nothing was held before the capture


def test_refunds_count_and_amount_come_from_settled_refunds_and_the_ledger(
        app, people, stack, psp):
    from tests.flows import settle

    order_id = paid_order(app, people, stack, psp)
    payment_id = holds(order_id)["Mug"].order.current_payment.id
    refunds.request_refund(payment_id, amount=1000, reason="goodwill", actor=SUPPORT,
                           by="support")
    settle(psp)
    report = dashboard.build(_today())
    assert report.totals.refunded == _ledger("psp_clearing", "EUR", "refund") * -1 == 1000
    assert (report.refunds.hits, report.refunds.amount, report.refunds.total) == (1, 1000, 1)


def test_the_period_refuses_reversed_long_or_unknown_input():
    for args, words in (({"from": "2026-02-01", "to": "2026-01-01"}, "after"),
                        ({"from": "2020-01-01", "to": "2026-01-01"}, "at most"),
                        ({"currency": "XXX"}, "Unknown currency"),
                        ({"to": "31/01/2026"}, "must look like")):
        with pytest.raises(ServiceError, match=words):
            dashboard.parse_period(args)


def test_dispute_rates_by_psp_and_seller_and_declines(app, people, stack, psp):
    """One clean order and one paid with the dispute card: 1 chargeback of 2 captures on the
    sandbox; the mug seller has both, the candle seller only the clean one. A declined card
    counts as an attempt and a decline reason."""
    from tests.flows import pay_one, settle

    paid_order(app, people, stack, psp)
    pay_one(app, stack, "buyer", people["mug"], "pm_card_createDispute")
    settle(psp)
    declined = pay_one(app, stack, "other_buyer", people["candle"], "pm_card_chargeDeclined")
    settle(psp)
    report = dashboard.build(_today())
    [by_psp] = report.disputes_by_provider
    assert (by_psp.label, by_psp.hits, by_psp.total) == ("sandbox", 1, 2)
    sellers = {r.label.split(" <")[0]: (r.hits, r.total) for r in report.disputes_by_seller}
    mug_seller = next(k for k, v in sellers.items() if v == (1, 2))
    assert report.disputes_by_seller[0].label.startswith(mug_seller)  # the highest rate first
    assert sorted(sellers.values()) == [(0, 1), (1, 2)]
    [auth] = report.auth_by_provider
    assert (auth.hits, auth.total) == (2, 3)
    assert [(r.label, r.hits) for r in report.declines] == [(declined_code(declined), 1)]
    assert {r.label for r in report.fraud} <= {"allow", "review", "require_3ds", "block"}
    assert sum(r.hits for r in report.fraud) == 3


def declined_code(payment) -> str:
    db.session.expire_all()
    found = db.session.get(type(payment), payment.id)
    return found.decline_code or found.status


def test_escrow_held_at_a_past_end_counts_lines_released_since(app, people, stack, psp,
                                                               platform_clock):
    order_id = paid_order(app, people, stack, psp)
    captured_on = now().date()
    platform_clock.advance(2 * 86400)
    release(holds(order_id)["Mug"].id)  # two days later
    then = dashboard.build(dashboard.parse_period({"from": captured_on.isoformat(),
                                                   "to": captured_on.isoformat()}))
    assert then.escrow_held == 6490  # both lines were still held at the end of that day
    assert dashboard.build(_today()).escrow_held == -_ledger("escrow", "EUR") == 1690
