"""The dashboard's roll-ups: a stored day says what the live aggregate says, before and after a
day boundary, after refunds, chargebacks, declines and releases, and after a stored day's
payment changes; and the dashboard really reads the stored days."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from app.clock import now
from app.extensions import db
from app.models import LedgerEntry, LedgerTransaction, Payment
from app.models.refunds import Refund
from app.models.reporting import DailyRollup, DailyTotal
from app.services.refunds import refunds
from app.services.reporting import daily, dashboard, rollups
from tests.blueprints.money_steps import SUPPORT, holds, paid_order, release

DAY = 86400


def _mix(app, people, stack, psp) -> None:
    """A clean order partly refunded, an order charged back, a declined card."""
    from tests.flows import pay_one, settle

    order_id = paid_order(app, people, stack, psp)
    payment_id = holds(order_id)["Mug"].order.current_payment.id
    refunds.request_refund(payment_id, amount=1000, reason="goodwill", actor=SUPPORT,
                           by="support")
    pay_one(app, stack, "buyer", people["mug"], "pm_card_createDispute")
    pay_one(app, stack, "other_buyer", people["candle"], "pm_card_chargeDeclined")
    settle(psp)


def _both_ways(first, last) -> dashboard.Figures:
    """The figures through the roll-ups, asserted equal to the live aggregate."""
    db.session.expire_all()
    found = rollups.figures("EUR", first, last)
    assert found == daily.aggregate(first, last, "EUR")
    return found


def _ledger(kind: str, event: str | None = None) -> int:
    query = (select(func.coalesce(func.sum(LedgerEntry.amount), 0)).join(LedgerEntry.transaction)
             .where(LedgerEntry.kind == kind, LedgerEntry.currency == "EUR"))
    if event:
        query = query.where(LedgerTransaction.event == event)
    return db.session.execute(query).scalar_one()


def test_stored_days_equal_the_live_aggregate_across_day_boundaries_and_late_changes(
        app, people, stack, psp, platform_clock):
    _mix(app, people, stack, psp)
    first = now().date()
    assert rollups.roll_up() == []  # today is not closed: nothing stored
    live_report = dashboard.build(dashboard.parse_period({"from": first.isoformat(),
                                                          "to": first.isoformat()}))

    platform_clock.advance(DAY + 3600)  # the first day closed an hour ago
    second = now().date()
    assert rollups.roll_up() == [first]
    assert rollups.roll_up() == []  # idempotent: nothing changed meanwhile
    stored = db.session.scalars(select(DailyTotal).where(DailyTotal.day == first)).all()
    assert {row.metric for row in stored} >= {"ledger", "captured", "chargebacks", "auth_mode",
                                              "decline", "refunds", "seller_orders"}
    period = dashboard.parse_period({"from": first.isoformat(), "to": first.isoformat()})
    assert dashboard.build(period) == live_report  # the stored day says what live said

    # The second day: a line released (a ledger posting read live, beside the stored day).
    release(holds(db.session.scalar(select(func.min(Payment.order_id))))["Candle"].id)
    found = _both_ways(first, second)
    report = dashboard.build(dashboard.parse_period({"from": first.isoformat(),
                                                     "to": second.isoformat()}))
    t = report.totals
    assert t.gmv == -_ledger("escrow", "capture") > 0
    assert t.platform_fees == -_ledger("platform_fees") > 0
    assert t.refunded == -_ledger("psp_clearing", "refund") == 1000
    assert report.refunds.hits == db.session.scalar(
        select(func.count()).select_from(Refund).where(Refund.status == "succeeded")) == 1
    assert report.escrow_held == -_ledger("escrow")
    assert [(r.label, r.hits, r.total) for r in report.disputes_by_provider] == [
        ("sandbox", 1, 2)]
    assert (report.auth_by_provider[0].hits, report.auth_by_provider[0].total) == (2, 3)
    assert sum(1 for key in found if key[1] == second) > 0  # the release, read live

    # A stored day's payment changes later (a retry records a newer decline reason): that day
    # is read live until the next roll-up takes it again.
    declined = db.session.scalar(select(Payment).where(Payment.amount_authorized == 0))
    before = declined.decline_code or declined.status
    declined.decline_code = "insufficient_funds"
    db.session.commit()
    found = _both_ways(first, second)
    reasons = rollups.summed(found, "decline")
    assert "insufficient_funds" in reasons and before not in reasons

    platform_clock.advance(DAY)  # the second day closes too
    assert rollups.roll_up() == [first, second]  # the changed day again, and the new one
    # The two closed days whole, and today up to the margin (its last minutes read live).
    stored = dict(db.session.execute(select(DailyRollup.day, DailyRollup.through)).all())
    assert sorted(stored) == [first, second, now().date()]
    assert rollups.day_start(now().date()) <= stored[now().date()] <= now() - rollups.CLOSE_MARGIN
    found = _both_ways(first, second)
    assert "insufficient_funds" in rollups.summed(found, "decline")


def test_today_is_stored_up_to_the_margin_and_the_minutes_since_are_added_live(
        app, people, stack, psp, platform_clock):
    platform_clock.freeze()
    paid_order(app, people, stack, psp)
    today = now().date()
    platform_clock.advance(rollups.CLOSE_MARGIN.total_seconds() + 60)
    assert rollups.roll_up() == []  # nothing closed; today stored up to a minute ago
    [stored] = db.session.scalars(select(DailyRollup)).all()
    assert stored.day == today and stored.through == now() - rollups.CLOSE_MARGIN
    assert db.session.scalar(select(func.count()).select_from(DailyTotal)) > 0
    before = _both_ways(today, today)
    release(holds(db.session.scalar(select(func.min(Payment.order_id))))["Mug"].id)
    after = _both_ways(today, today)  # the release, after `through`, read live and added
    assert rollups.summed(after, "ledger") != rollups.summed(before, "ledger")


def test_the_dashboard_reads_stored_days_not_the_history(app, people, stack, psp,
                                                         platform_clock):
    """Proof the page reads the roll-up: a stored figure changed by hand shows on the page
    (never done outside this test: the table is written only by roll_up)."""
    paid_order(app, people, stack, psp)
    first = now().date()
    platform_clock.advance(DAY + 3600)
    rollups.roll_up()
    row = db.session.get(DailyTotal, ("EUR", first, "ledger", "escrow:capture"))
    real = dashboard.build(dashboard.parse_period({"from": first.isoformat()})).totals.gmv
    row.amount -= 100
    db.session.commit()
    shown = dashboard.build(dashboard.parse_period({"from": first.isoformat()})).totals.gmv
    assert shown == real + 100
    assert dashboard.currencies() == ["EUR"]


def test_a_day_is_not_stored_before_it_closed_by_the_margin(app, people, stack, psp,
                                                            platform_clock):
    paid_order(app, people, stack, psp)
    today = now().date()
    midnight = rollups.day_start(today + timedelta(days=1))
    assert rollups.roll_up(midnight + rollups.CLOSE_MARGIN - timedelta(seconds=1)) == []
    assert rollups.roll_up(midnight + rollups.CLOSE_MARGIN) == [today]


def test_a_stored_day_whose_payments_changed_rereads_only_its_payment_figures(
        app, people, stack, psp, platform_clock):
    """Its ledger stays the stored figure (changed by hand here to tell the two apart), its
    payments' figures are live: a screening decision recorded after the roll-up shows."""
    paid_order(app, people, stack, psp)
    first = now().date()
    platform_clock.advance(DAY + 3600)
    assert rollups.roll_up() == [first]
    row = db.session.get(DailyTotal, ("EUR", first, "ledger", "escrow:capture"))
    row.amount -= 100
    payment = db.session.scalar(select(Payment))
    payment.fraud_decision = "review"  # after the mark: the day is read live for payments
    db.session.commit()
    found = rollups.figures("EUR", first, first)
    assert rollups.summed(found, "ledger")["escrow:capture"][2] == _ledger("escrow",
                                                                           "capture") - 100
    assert rollups.summed(found, "fraud")["review"][0] == 1
    assert rollups.summed(found, "auth_provider") == rollups.summed(
        daily.aggregate(first, first, "EUR"), "auth_provider")
