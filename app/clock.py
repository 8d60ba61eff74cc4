"""The platform's notion of now: naive UTC everywhere, stored and compared alike."""
from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    """Current time in UTC without tzinfo (SQLite keeps no zone; PostgreSQL columns match)."""
    return datetime.now(UTC).replace(tzinfo=None)
