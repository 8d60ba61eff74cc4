"""The periodic roll-up of the admin dashboard's closed days."""
from __future__ import annotations

from app.jobs.context import app_context
from app.services.reporting import rollups


def roll_up_days() -> int:
    """Store closed days not stored yet and re-take days whose payments changed; returns how
    many days were written (idempotent: a second run writes only what changed meanwhile)."""
    with app_context():
        return len(rollups.roll_up())
