"""The roll-up job: periodic, and idempotent (a second run writes nothing new)."""
from __future__ import annotations

from app.clock import now
from app.jobs.reporting import roll_up_days
from app.jobs.scheduling import PERIODIC
from tests.blueprints.money_steps import paid_order


def test_the_roll_up_is_periodic_and_a_second_run_writes_nothing(app, people, stack, psp,
                                                                  platform_clock):
    assert PERIODIC["daily_totals"] == ("ROLLUP_SECONDS", "app.jobs.reporting.roll_up_days")
    paid_order(app, people, stack, psp)
    assert roll_up_days() == 0  # today has not closed
    # To 01:00 tomorrow, whatever the hour now: a full day more would close two days when the
    # suite runs after 23:00 UTC (the day paid in, and the empty one after it).
    platform_clock.advance(86400 - now().timestamp() % 86400 + 3600)
    assert roll_up_days() == 1
    assert roll_up_days() == 0
