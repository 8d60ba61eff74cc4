"""The periodic refresh of reference exchange rates."""
from __future__ import annotations

from app.jobs.context import app_context
from app.services.audit import Actor
from app.services.money import fx

RATES = Actor("system:fx-rates", "worker")


def refresh_rates() -> str:
    """Read the configured rates source into the rates table; fails loudly (RQ retries)."""
    with app_context():
        return fx.refresh(RATES).as_of.isoformat()
