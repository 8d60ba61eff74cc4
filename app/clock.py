"""The platform's notion of now: naive UTC everywhere, stored and compared alike.

`timestamp()` is the seam for code whose correctness depends on where "now" falls in a fixed
window (TOTP time steps, rate-limit windows): call it as `clock.timestamp()` (module attribute,
not `from app.clock import timestamp`) so a test can hand the platform a clock it controls
(tests/clocks.py) instead of sleeping until the next window.
"""
from __future__ import annotations

import time
from datetime import UTC, datetime


def now() -> datetime:
    """Current time in UTC without tzinfo (SQLite keeps no zone; PostgreSQL columns match).

    Read through `timestamp()`, so a clock handed to the platform there (tests, the seeded
    simulation in sim/) moves every timer and every stored time with it."""
    return datetime.fromtimestamp(timestamp(), UTC).replace(tzinfo=None)


def timestamp() -> float:
    """Seconds since the epoch, as time.time()."""
    return time.time()
