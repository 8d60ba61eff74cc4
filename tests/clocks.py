"""A clock the tests control, handed to the platform through app.clock.timestamp.

The `platform_clock` fixture (tests/conftest.py) installs one for every test: it runs with real
time until a test freezes or advances it, so TOTP steps and rate-limit windows are reached by
moving the clock, never by sleeping until the wall clock gets there.
"""
from __future__ import annotations

import time


class TestClock:
    """Real time plus an offset, or a frozen instant plus that offset."""

    __test__ = False  # not a test class, whatever its name

    def __init__(self) -> None:
        self.frozen: float | None = None
        self.offset = 0.0

    def __call__(self) -> float:
        return (time.time() if self.frozen is None else self.frozen) + self.offset

    def freeze(self, at: float | None = None) -> float:
        """Stop the clock at `at` (default: now); returns the frozen instant."""
        self.frozen, self.offset = (self() if at is None else at), 0.0
        return self.frozen

    def advance(self, seconds: float) -> None:
        """Move the clock on (frozen or running)."""
        self.offset += seconds
