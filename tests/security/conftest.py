"""Fixtures shared by the webhook-signature tests."""
from __future__ import annotations

import time

import pytest


@pytest.fixture
def whole_second(platform_clock):
    """The platform's clock stands still on a whole second, so a stamp of `now ± n` is exactly
    n seconds off when the endpoint checks it, however long the request takes. (With the wall
    clock, the dropped fraction of int(time.time()) plus a slow request let `now + 301` pass as
    within 300.) Returns that second."""
    return int(platform_clock.freeze(int(time.time())))
