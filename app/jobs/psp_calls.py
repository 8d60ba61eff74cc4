"""The periodic retention job of the PSP call log."""
from __future__ import annotations

from app.jobs.context import app_context
from app.services import psp_calls


def prune_call_log() -> int:
    """Delete call-log rows older than PSP_CALL_LOG_DAYS; returns how many (idempotent)."""
    with app_context():
        return psp_calls.prune()
