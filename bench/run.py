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
    "checkout": ("bench.checkout", 200, 40, 1, 1),
    "worker": ("bench.worker", 200, 50, 3, 2),
    "batch": ("bench.batch", 1000, 200, 5, 3),
    # count = orders at the large size (against 1,000); rounds = requests per page.
    "scale": ("bench.scale", 1_000_000, 20_000, 30, 20),
    # count = settlement lines in one day (the target is 1M; the full run's default
    # stays where a shared 2-core machine finishes it in about a minute).
    "reconciliation": ("bench.reconciliation", 100_000, 5_000, 3, 2),
}
# The smallest sizes that still exercise every line of a benchmark (tests/bench/).
SMOKE = {"webhooks": (20, 1), "ledger": (20, 1), "refunds": (5, 1), "memory": (50, 1),
         "checkout": (2, 1), "worker": (3, 1), "batch": (10, 1), "scale": (300, 3),
         "reconciliation": (20, 1)}


def header(quick: bool) -> list[str]:
    """Where and when the figures were measured."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return [f"Holdfast benchmarks, {'quick' if quick else 'full'} run, {stamp}",
            (f"{os.cpu_count()} cores, load average {load}; "
             f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}"),
            "each ratio = subject / baseline, both measured in this run", ""]


def run_one(name: str, quick: bool, options: argparse.Namespace | None = None,
            size: tuple[int, int] | None = None) -> list[str]:
    """Build a throw-away platform, run one benchmark in it, return its printed lines."""
    import importlib

    from bench.stack import throwaway_app

    module_name, full, small, rounds_full, rounds_quick = BENCHMARKS[name]
    count, rounds = size or ((small, rounds_quick) if quick else (full, rounds_full))
    started = time.perf_counter()
    module = importlib.import_module(module_name)
    if name == "checkout":
        results = [module.run_checkout(count, rounds)]
    elif name == "scale":
        if options is not None and options.scale:
            count = options.scale
        keep = options.scale_keep if options is not None else None
        results = module.run((min(module.BASE_SIZE, count), count), rounds, keep=keep)
        if options is not None and options.postgres:
            results += module.run((min(module.BASE_SIZE, count), count), rounds,
                                  options.postgres, keep=keep)
    elif name == "reconciliation":
        if options is not None and options.lines:
            count = options.lines
        with throwaway_app() as app:
            results = [module.run(app, count, rounds)]
        if options is not None and options.postgres:
            with throwaway_app(options.postgres) as app:
                results.append(module.run(app, count, rounds))
    else:
        with throwaway_app() as app:
            results = module.run(app, count) if name == "memory" else \
                module.run(app, count, rounds)
    if not isinstance(results, list):
        results = [results]
    lines = [line for result in results for line in result.lines()]
    return lines + [f"  took      {time.perf_counter() - started:.1f} s", ""]


def main(argv: list[str] | None = None) -> int:
    """Run the chosen benchmarks (all by default); 1 if any broke, else 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="smaller volumes and fewer rounds (under a minute)")
    parser.add_argument("--scale", type=int, metavar="ORDERS",
                        help="orders at the scale benchmark's large size (full run: 1,000,000)")
    parser.add_argument("--scale-keep", metavar="PREFIX",
                        help="build the scale benchmark's data once and reuse it: SQLite files "
                             "PREFIX-<orders>.db, PostgreSQL databases <name>_<orders>")
    parser.add_argument("--lines", type=int, metavar="LINES",
                        help="settlement lines in the reconciliation benchmark's day "
                             "(the issue's target: 1,000,000)")
    parser.add_argument("--postgres", metavar="URL", default=os.environ.get("BENCH_POSTGRES_URL"),
                        help="also run the scale and reconciliation benchmarks on this "
                             "PostgreSQL database "
                             "(its public schema is dropped; default $BENCH_POSTGRES_URL)")
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
            print("\n".join(run_one(name, args.quick, args)), flush=True)
        except Exception:  # noqa: BLE001 — one broken benchmark must not hide the others
            broken.append(name)
            print(f"{name}: BROKEN\n{traceback.format_exc()}", flush=True)
    if broken:
        print(f"broken: {', '.join(broken)}")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
