"""Shrinking a failing run to a minimal one that still breaks the same invariant.

A run is its seed, the workload steps it makes (by number) and the faults that fire (by id,
sandbox_psp/faults.FaultPlan); every step and fault draws from its own stream, so any subset
replays exactly as it was in the whole run. Delta debugging (Zeller's ddmin) first over the
steps, then over the faults of the smaller run; each candidate is replayed from scratch. The
result is 1-minimal when the budget allows: leaving out any one step (or fault) of it no longer
breaks the invariant.
"""
from __future__ import annotations

import time

from sim.run import Result, run_seed
from sim.world import World


def ddmin(items: list, fails) -> list:
    """The smallest sublist of `items` (order kept) for which `fails(sublist)` is true, by
    delta debugging; `fails(items)` is assumed true. `fails` may raise StopIteration (budget
    spent): the best so far is returned."""
    chunks = 2
    try:
        while items:
            size = -(-len(items) // chunks)
            parts = [items[i:i + size] for i in range(0, len(items), size)]
            for part in parts:                      # one part alone?
                if len(parts) > 1 and fails(part):
                    items, chunks = part, 2
                    break
            else:
                for part in parts:                  # everything but one part?
                    rest = [item for item in items if item not in part]
                    if fails(rest):
                        items, chunks = rest, max(chunks - 1, 2)
                        break
                else:
                    if chunks >= len(items):
                        break                       # single items: 1-minimal
                    chunks = min(len(items), chunks * 2)
    except StopIteration:
        pass
    return items


def shrink(world: World, failing: Result, password_hash: str, max_runs: int = 400,
           max_seconds: float = 900.0, extra_check=None) -> Result:
    """The minimal run of `failing`'s seed that still breaks its first broken invariant
    (failing.shrunk is set to it and it is returned)."""
    target = failing.broken
    started, runs = time.perf_counter(), [0]
    best = [failing]

    def replay(steps, faults) -> bool:
        if runs[0] >= max_runs or time.perf_counter() - started > max_seconds:
            raise StopIteration
        runs[0] += 1
        result = run_seed(world, failing.seed, password_hash, keep=steps, faults=faults,
                          extra_check=extra_check)
        if result.violations.get(target):
            best[0] = result
            return True
        return False

    # Steps first, with every fault the plan draws; then the faults that fired in that run.
    # ddmin keeps a candidate only when it failed, so the last failing replay is its pick.
    steps = ddmin(list(failing.steps), lambda steps: replay(steps, None))
    ddmin(list(best[0].faults), lambda faults: replay(steps, faults))
    small = best[0]
    small.trace.append(f"(shrunk in {runs[0]} replays, {time.perf_counter() - started:.0f} s)")
    failing.shrunk = small
    return small
