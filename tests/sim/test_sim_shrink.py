"""The shrinker (sim/shrink.py): a failing run comes back as a minimal one that still breaks the
same invariant, and its replay line reproduces it. The failure is injected: a test-only
invariant ("no refund ever succeeds") that a run breaks only after a checkout, a payment, its
capture and a refund — so the minimal trace has to keep exactly those steps."""
from __future__ import annotations

import re

from sqlalchemy import select

from app.extensions import db
from app.models.refunds import Refund
from sim.run import run_seed
from sim.shrink import ddmin, shrink
from sim.world import fast_hash

# Seed 1026's 80-step run refunds a payment; shrunk, its steps 45 47 69 73 77 still do (a
# checkout, paid twice, the webhooks delivered, their jobs and the capture, a refund). The test
# starts from those and nine steps that find nothing to act on (a whole run takes the shrinker
# ~100 replays, minutes on a loaded machine; 14 steps, a few dozen), so shrinking has to find
# them. Which steps those are moves with the code (a new periodic job changes the order jobs
# are drawn in): when this run no longer refunds, shrink a whole run of the seed again.
SEED = 1026
START = (0, 1, 5, 7, 21, 27, 29, 45, 47, 69, 73, 74, 75, 77)


def no_refund_succeeds(world) -> list[str]:
    """The deliberately wrong invariant."""
    return [f"refund {refund_id} succeeded" for refund_id in db.session.execute(
        select(Refund.id).where(Refund.status == "succeeded")).scalars()]


def test_ddmin_finds_the_smallest_failing_sublist():
    calls = []

    def fails(items):
        calls.append(items)
        return {3, 17, 41} <= set(items)

    assert ddmin(list(range(60)), fails) == [3, 17, 41]
    assert all(len(items) < 60 for items in calls)


def test_ddmin_keeps_the_best_so_far_when_the_budget_runs_out():
    runs = []

    def fails(items):
        if len(runs) == 3:
            raise StopIteration
        runs.append(items)
        return 5 in items

    found = ddmin(list(range(40)), fails)
    assert 5 in found and len(found) < 40


def test_a_failing_run_shrinks_to_a_minimal_trace_that_replays(world):
    password_hash = fast_hash()
    failing = run_seed(world, SEED, password_hash, keep=START, extra_check=no_refund_succeeds)
    assert failing.broken == "injected", failing.report()

    small = shrink(world, failing, password_hash, extra_check=no_refund_succeeds)

    assert small.violations["injected"]
    assert len(small.steps) <= 8 < len(failing.steps)
    assert len(small.faults) <= len(failing.faults)
    made = " ".join(small.trace)
    assert "checkout:" in made and re.search(r"\bpay(_twice)?:", made) and "refund " in made
    # 1-minimal: without any one of its steps, the run no longer breaks the invariant.
    for step in small.steps:
        rest = [kept for kept in small.steps if kept != step]
        replay = run_seed(world, SEED, password_hash, keep=rest, faults=small.faults,
                          extra_check=no_refund_succeeds)
        assert not replay.violations.get("injected"), f"step {step} was not needed"
    # The report prints the seed and the minimal run's replay line, which reproduces it.
    report = failing.report()
    assert f"seed {SEED} FAILED" in report and small.replay(full=False) in report
    again = run_seed(world, SEED, password_hash, keep=small.steps, faults=small.faults,
                     extra_check=no_refund_succeeds)
    assert again.violations == small.violations
    assert again.trace == small.trace[:-1]  # the same run, but for the shrinker's own note
