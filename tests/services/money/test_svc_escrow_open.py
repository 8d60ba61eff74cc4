"""Open escrow by capture day (escrow_open_days): what it says equals the open holds grouped by
currency and day after a capture, a release, a partial and a full refund, a refund given back,
and for lines captured either side of midnight; the dashboard's age buckets read it."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.clock import now
from app.database import unit_of_work
from app.extensions import db
from app.models import EscrowHold, Payment
from app.services.money import escrow, escrow_open
from app.services.refunds import refunds
from app.services.reporting import dashboard
from tests.blueprints.money_steps import SUPPORT, holds, paid_order, release
from tests.flows import settle

DAY = 86400


def _kept() -> list[tuple]:
    db.session.expire_all()
    return [(day, lines, amount) for day, lines, amount in escrow_open.by_day("EUR")]


def _from_holds() -> list[tuple]:
    """The same figures worked out from the holds one by one (what the roll-up must say)."""
    days: dict = {}
    for hold in db.session.execute(select(EscrowHold)).scalars():
        if hold.status in ("held", "on_hold"):
            lines, amount = days.get(hold.created_at.date(), (0, 0))
            days[hold.created_at.date()] = (lines + 1, amount + hold.remaining)
    return [(day, *days[day]) for day in sorted(days)]


def _payment(order_id: int) -> Payment:
    return holds(order_id)["Mug"].order.current_payment


def test_capture_release_and_refunds_move_open_escrow_of_the_capture_day(
        app, people, stack, psp):
    order_id = paid_order(app, people, stack, psp)
    today = now().date()
    assert _kept() == _from_holds() == [(today, 2, 6490)]  # 2 mugs (4800) and a candle (1690)

    release(holds(order_id)["Mug"].id)
    assert _kept() == _from_holds() == [(today, 1, 1690)]

    refunds.request_refund(_payment(order_id).id, lines={holds(order_id)["Candle"].order_line_id:
                                                         500}, reason="goodwill",
                           actor=SUPPORT, by="support")
    settle(psp)
    assert holds(order_id)["Candle"].refunded_amount == 500
    assert _kept() == _from_holds() == [(today, 1, 1190)]  # part of a held line went back

    refunds.request_refund(_payment(order_id).id, lines={holds(order_id)["Candle"].order_line_id:
                                                         1190}, reason="goodwill",
                           actor=SUPPORT, by="support")
    settle(psp)
    assert holds(order_id)["Candle"].status == "refunded"
    assert _kept() == _from_holds() == []  # nothing open (its day's row says 0 lines, 0)
    assert escrow_open.days_match_holds() == []


def test_a_frozen_line_stays_open_and_a_refund_given_back_reopens_it(app, people, stack, psp):
    order_id = paid_order(app, people, stack, psp)
    today = now().date()
    with unit_of_work():
        candle = db.session.get(EscrowHold, holds(order_id)["Candle"].id)
        escrow.freeze(candle, SUPPORT, "a claim")
    assert _kept() == [(today, 2, 6490)]  # on hold is still held money
    with unit_of_work():
        candle = db.session.get(EscrowHold, candle.id)
        escrow.take_back(candle, candle.remaining, candle.fee_remaining)
        db.session.flush()
        assert candle.status == "refunded"
        assert escrow_open.by_day("EUR") == [(today, 1, 4800)]  # in the same transaction
        escrow.give_back(candle, 1690, candle.fee_amount, SUPPORT, "the refund failed")
    assert holds(order_id)["Candle"].status == "on_hold"
    assert _kept() == _from_holds() == [(today, 2, 6490)]


def test_lines_captured_either_side_of_midnight_age_by_their_own_day(
        app, people, stack, psp, platform_clock, monkeypatch):
    # The platform's clock goes back to last midnight while the sandbox signs its webhooks
    # in real time: widen the tolerance (and drop the providers built with the old one).
    monkeypatch.setitem(app.config, "WEBHOOK_TOLERANCE_SECONDS", 2 * DAY)
    monkeypatch.setitem(app.extensions, "holdfast_providers", {})
    midnight = datetime.combine(now().date(), datetime.min.time())
    platform_clock.freeze((midnight - timedelta(seconds=30)).replace(tzinfo=UTC).timestamp())
    first = paid_order(app, people, stack, psp)
    platform_clock.advance(60)
    paid_order(app, people, stack, psp, buyer="other_buyer")
    before, after = (midnight - timedelta(days=1)).date(), midnight.date()
    assert [h.created_at.date() for h in holds(first).values()] == [before, before]
    assert _kept() == _from_holds() == [(before, 2, 6490), (after, 2, 6490)]

    def ages() -> dict[str, tuple[int, int]]:
        return {r.label: (r.hits, r.amount) for r in dashboard.escrow(
            dashboard.parse_period({"currency": "EUR"}))[1] if r.hits}

    assert ages() == {"0–7 days": (4, 12980)}
    platform_clock.advance(7 * DAY)  # the first day's lines are 8 days old, the second's 7
    assert ages() == {"0–7 days": (2, 6490), "8–14 days": (2, 6490)}
    platform_clock.advance(23 * DAY)  # 31 and 30 days
    assert ages() == {"15–30 days": (2, 6490), "over 30 days": (2, 6490)}
    release(holds(first)["Candle"].id)
    assert ages() == {"15–30 days": (2, 6490), "over 30 days": (1, 4800)}
    held, buckets = dashboard.escrow(dashboard.parse_period({"currency": "EUR"}))
    assert held == sum(r.amount for r in buckets) == 6490 + 4800
