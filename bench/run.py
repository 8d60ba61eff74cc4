"""Run the benchmarks: `python -m bench.run [--quick] [name ...]` (or `make bench`).

Each benchmark builds its own throw-away platform (bench/stack.py), measures its subject and a
baseline in the same run with the same data, and prints both rates, the ratio and the target
with PASS or MISS. A miss is a finding to read, not a failure: the exit code is 0 unless a
benchmark itself broke (it raised, or its data check found the subject did not do its work).
"""
from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import sys
import time
import traceback
from datetime import UTC, datetime

# name → (module, full size, quick size, rounds full, rounds quick); sizes are operations per
# round. The memory benchmark keeps N = 1,000 in both modes: its target is argued at that N.
BENCHMARKS = {
    "webhooks": ("bench.webhooks", 1000, 200, 5, 3),
    "ledger": ("bench.ledger", 1000, 200, 5, 3),
    "refunds": ("bench.refunds", 300, 100, 5, 3),
    "memory": ("bench.memory", 1000, 1000, 1, 1),
}


def header(quick: bool) -> list[str]:
    """Where and when the figures were measured."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return [f"Holdfast benchmarks, {'quick' if quick else 'full'} run, {stamp}",
            (f"{os.cpu_count()} cores, load average {load}; "
             f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}"),
            "each ratio = subject / baseline, both measured in this run", ""]


def run_one(name: str, quick: bool) -> list[str]:
    """Build a throw-away platform, run one benchmark in it, return its printed lines."""
    import importlib

    from bench.stack import throwaway_app

    module_name, full, small, rounds_full, rounds_quick = BENCHMARKS[name]
    module = importlib.import_module(module_name)
    count, rounds = (small, rounds_quick) if quick else (full, rounds_full)
    started = time.perf_counter()
    with throwaway_app() as app:
        result = module.run(app, count) if name == "memory" else module.run(app, count, rounds)
    return result.lines() + [f"  took      {time.perf_counter() - started:.1f} s", ""]


def main(argv: list[str] | None = None) -> int:
    """Run the chosen benchmarks (all by default); 1 if any broke, else 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="smaller volumes and fewer rounds (under a minute)")
    parser.add_argument("names", nargs="*", metavar="name",
                        help=f"any of {', '.join(BENCHMARKS)} (default: all)")
    args = parser.parse_args(argv)
    unknown = set(args.names) - set(BENCHMARKS)
    if unknown:
        parser.error(f"no benchmark named {', '.join(sorted(unknown))}")
    print("\n".join(header(args.quick)), flush=True)
    broken = []
    for name in args.names or list(BENCHMARKS):
        try:
            print("\n".join(run_one(name, args.quick)), flush=True)
        except Exception:  # noqa: BLE001 — one broken benchmark must not hide the others
            broken.append(name)
            print(f"{name}: BROKEN\n{traceback.format_exc()}", flush=True)
    if broken:
        print(f"broken: {', '.join(broken)}")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
