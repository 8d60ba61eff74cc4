"""`python -m sim --seeds N [--first K] [--jobs J]` or `python -m sim --seed S [--keep …]
[--faults …]` (make soak)."""
from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import warnings


def _numbers(text: str | None):
    if text is None:
        return None
    return [] if text == "none" else [int(n) for n in text.split(",") if n]


def _ids(text: str | None):
    if text is None:
        return None
    return [] if text == "none" else [n for n in text.split(",") if n]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim", description=__doc__)
    parser.add_argument("--seeds", type=int, default=100, help="how many seeds to run")
    parser.add_argument("--first", type=int, default=0, help="the first seed")
    parser.add_argument("--seed", type=int, help="replay one seed (prints its trace)")
    parser.add_argument("--keep", help="with --seed: only these step numbers (1,5,9 or none), "
                        "as a shrunk trace's replay line says")
    parser.add_argument("--faults", help="with --seed: only these fault ids fire (3.1,7.2 or "
                        "none)")
    parser.add_argument("--no-shrink", action="store_true",
                        help="report a failing seed's whole trace, without shrinking it")
    parser.add_argument("--jobs", type=int, default=1, help="seeds run in this many processes "
                        "(each with its own SQLite files and Redis)")
    parser.add_argument("--budget", type=float, help="stop starting seeds after this many "
                        "seconds (the table counts the runs made)")
    args = parser.parse_args(argv)
    if args.jobs > 1 and args.seed is None:
        return _parallel(args)
    _quiet()
    from sim.run import run_seed, soak, table
    from sim.shrink import shrink
    from sim.world import fast_hash, standalone

    world = standalone()
    password_hash = fast_hash()
    if args.seed is not None:
        with world.attached():
            result = run_seed(world, args.seed, password_hash, keep=_numbers(args.keep),
                              faults=_ids(args.faults))
            if not result.ok and not args.no_shrink and args.keep is None:
                shrink(world, result, password_hash)
        print(result.report() if not result.ok else
              f"seed {args.seed}: no violations ({result.seconds:.1f} s)\n  trace:\n    "
              + "\n    ".join(result.trace))
        return 0 if result.ok else 1
    summary = soak(world, range(args.first, args.first + args.seeds), password_hash,
                   budget=args.budget, shrink=not args.no_shrink)
    print(table(summary))
    return 0 if not summary["failed_seeds"] else 1


def _quiet() -> None:
    logging.disable(logging.WARNING)   # the platform logs every expected PSP failure
    warnings.simplefilter("ignore")


def _parallel(args) -> int:
    import multiprocessing

    from sim.parallel import share
    from sim.run import merge, table

    if os.environ.get("DATABASE_URL"):
        print("--jobs needs SQLite: each process makes its own files (unset DATABASE_URL)")
        return 2
    started = time.perf_counter()
    seeds = list(range(args.first, args.first + args.seeds))
    shares = [(seeds[n::args.jobs], args.budget, not args.no_shrink) for n in range(args.jobs)]
    # spawn: each process imports the app afresh and builds its own world (temp files, Redis).
    with multiprocessing.get_context("spawn").Pool(args.jobs) as pool:
        summaries = pool.map(share, shares)
    summary = merge(summaries, time.perf_counter() - started)
    print(table(summary))
    return 0 if not summary["failed_seeds"] else 1


if __name__ == "__main__":
    sys.exit(main())
