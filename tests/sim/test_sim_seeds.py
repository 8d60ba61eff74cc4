"""A fixed sample of the seeded simulation (sim/, docs/simulation.md) on every run of the suite,
on the suite's own database setting: random workloads with PSP and webhook faults, then the
invariants of reference §5 and the sandbox PSP's own records. A failure prints the seed and its
trace; `make soak SEED=<seed>` replays it."""
from __future__ import annotations

import pytest

from sim.run import run_seed
from sim.world import fast_hash

# Fixed, so CI is reproducible; `make soak SEEDS=N` runs as many more as there is time for.
SAMPLE = range(1000, 1012)


@pytest.mark.parametrize("seed", SAMPLE)
def test_a_seeded_run_keeps_every_invariant(world, seed):
    result = run_seed(world, seed, fast_hash())
    assert result.ok, result.report()
