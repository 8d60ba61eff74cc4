"""A fixed sample of the seeded simulation (sim/, docs/simulation.md) on every run of the suite,
on the suite's own database setting: random workloads with PSP and webhook faults, then the
invariants of reference §5 and the sandbox PSP's own records. A failure prints the seed and its
trace; `make soak SEED=<seed>` replays it."""
from __future__ import annotations

import pytest

from sim.run import run_seed
from sim.world import fast_hash

# Fixed, so CI is reproducible; `make soak SEEDS=N` runs as many more as there is time for.
SAMPLE = range(1000, 1020)


@pytest.mark.parametrize("seed", SAMPLE)
def test_a_seeded_run_keeps_every_invariant(world, seed):
    result = run_seed(world, seed, fast_hash())
    assert result.ok, result.report()


def _outcome(world) -> dict:
    """What a run left behind, on both sides: our payments and refunds by status, and every
    idempotency key the PSP executed."""
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models import Payment
    from app.models.refunds import Refund

    return {model.__name__: dict(db.session.execute(
                select(model.status, func.count()).group_by(model.status)).all())
            for model in (Payment, Refund)} | {"psp": world.psp_get("/v1/_stats")["executions"]}


def test_a_seed_replays_identically_after_other_seeds_in_the_same_process(world):
    """The world (apps, engines, Redis, the PSP's tables) is reused between seeds: nothing of
    one run may leak into the next, or a failing seed would not replay from `make soak SEED`."""
    password_hash = fast_hash()
    first = run_seed(world, 1003, password_hash)
    left = _outcome(world)
    run_seed(world, 1007, password_hash)
    again = run_seed(world, 1003, password_hash)
    assert again.trace == first.trace
    assert again.violations == first.violations
    assert _outcome(world) == left
