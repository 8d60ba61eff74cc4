"""The periodic sweep that hands unanswered claims to support."""
from __future__ import annotations

from app.jobs.context import app_context
from app.services.disputes import claims


def escalate_overdue() -> list[int]:
    """Escalate every claim whose answer is overdue; returns their ids (idempotent)."""
    with app_context():
        return claims.escalate_overdue()
