"""A seller's payout settings: how often and from what amount they are paid out.

The settings row is also the payout lock: a payout run, a manual payout and a clawback each lock
it first (settings_for, FOR UPDATE), so two of them never book from the same balance at once.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.database import unit_of_work
from app.extensions import db
from app.models.escrow import PayoutSettings
from app.services import audit
from app.services.audit import Actor
from app.services.errors import ServiceError

SCHEDULES = ("daily", "weekly", "manual")


def settings_for(seller_id: int) -> PayoutSettings:
    """The seller's payout settings, created with defaults on first use (caller's transaction)."""
    settings = db.session.execute(select(PayoutSettings).where(
        PayoutSettings.seller_id == seller_id).with_for_update()).scalar_one_or_none()
    if settings is None:
        # FOR UPDATE locks no row that does not exist yet: two first payouts at once both get
        # here, and on PostgreSQL the second INSERT fails on the key. In a savepoint, the loser
        # then waits for and locks the winner's row instead (tests/faults/test_fault_money_races).
        try:
            with db.session.begin_nested():
                settings = PayoutSettings(seller_id=seller_id)
                db.session.add(settings)
        except IntegrityError:
            settings = db.session.execute(select(PayoutSettings).where(
                PayoutSettings.seller_id == seller_id).with_for_update()).scalar_one()
    return settings


def update_settings(seller_id: int, schedule: str, weekday: int, minimum_amount: int,
                    actor: Actor) -> None:
    """Change how often and from what amount the seller is paid out."""
    if schedule not in SCHEDULES or not 0 <= weekday <= 6 or minimum_amount < 1:
        raise ServiceError("Choose daily, weekly or manual, a weekday, and a minimum of at "
                           "least one cent.")
    with unit_of_work():
        settings = settings_for(seller_id)
        settings.schedule, settings.weekday = schedule, weekday
        settings.minimum_amount = minimum_amount
        audit.record(actor, "payout.settings_changed", f"seller:{seller_id}",
                     schedule=schedule, weekday=weekday, minimum=minimum_amount)


def is_due(settings: PayoutSettings, at: datetime) -> bool:
    """Whether a scheduled run at `at` pays this seller."""
    if settings.last_run_on == at.date():
        return False
    if settings.schedule == "daily":
        return True
    return settings.schedule == "weekly" and at.weekday() == settings.weekday
