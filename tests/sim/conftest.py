"""The simulated world for tests/sim: the suite's platform and sandbox apps, wired for a
simulation while a test runs (sim/world.World)."""
from __future__ import annotations

import logging

import pytest

from sim.world import World


@pytest.fixture
def world(stack):
    simulated = World(stack["app"], stack["psp"])
    logging.disable(logging.WARNING)  # the platform logs every expected PSP failure
    try:
        with simulated.attached():
            yield simulated
    finally:
        logging.disable(logging.NOTSET)
