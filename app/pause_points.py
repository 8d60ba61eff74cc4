"""Named pause points, so a fault test can SIGKILL a real worker at an exact step.

A test starts a worker with HOLDFAST_PAUSE_AT=<point> and HOLDFAST_PAUSE_DIR=<folder>; when the
process reaches that point it writes <folder>/<point> (its pid inside) and sleeps until killed.
Without both variables, or in production, `reached()` is one dictionary look-up and returns.

Points (see tests/processes/): `job:<dotted job>:start` and `…:end` (jobs/context.py),
`psp:<method>:answered` (the PSP answered, nothing recorded yet; providers/resilience.py),
`job:<dotted job>:commit:<n>` (just before that job's n-th commit; database.py).
"""
from __future__ import annotations

import os
import time
from pathlib import Path

_commits = 0


def _target() -> tuple[str, str] | None:
    point, folder = os.environ.get("HOLDFAST_PAUSE_AT"), os.environ.get("HOLDFAST_PAUSE_DIR")
    if not point or not folder or os.environ.get("HOLDFAST_ENV") == "production":
        return None
    return point, folder


def reached(point: str) -> None:
    """Pause here forever when this is the point under test (the test then kills us)."""
    target = _target()
    if target is None or target[0] != point:
        return
    marker = Path(target[1]) / point.replace("/", "_")
    marker.write_text(str(os.getpid()))
    while True:  # the test sends SIGKILL; nothing here ever returns
        time.sleep(3600)


def before_commit() -> None:
    """Count this process's commits; pause before the one under test: `commit:<n>`, or
    `job:<dotted job>:commit:<n>` for the n-th commit of that job (each job is its own fork)."""
    global _commits
    if _target() is None:
        return
    _commits += 1
    from rq import get_current_job

    job = get_current_job()
    reached(f"job:{job.func_name}:commit:{_commits}" if job else f"commit:{_commits}")


def reset_after_fork() -> None:
    """A forked job counts its own commits from one."""
    global _commits
    _commits = 0
