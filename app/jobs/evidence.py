"""The periodic sweep that removes evidence files a crash left without their database row."""
from __future__ import annotations

from app.jobs.context import app_context
from app.services.disputes import evidence


def sweep_orphans() -> list[str]:
    """Delete orphaned evidence files past the grace period; returns their names (idempotent)."""
    with app_context():
        return evidence.sweep_orphans()
