"""`python -m sim --seeds N [--first K]` or `python -m sim --seed S` (make soak)."""
from __future__ import annotations

import argparse
import logging
import sys
import warnings


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim", description=__doc__)
    parser.add_argument("--seeds", type=int, default=100, help="how many seeds to run")
    parser.add_argument("--first", type=int, default=0, help="the first seed")
    parser.add_argument("--seed", type=int, help="replay one seed (prints its trace)")
    parser.add_argument("--budget", type=float, help="stop starting seeds after this many "
                        "seconds (the table counts the runs made)")
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)   # the platform logs every expected PSP failure
    warnings.simplefilter("ignore")
    from sim.run import run_seed, soak, table
    from sim.world import fast_hash, standalone

    world = standalone()
    password_hash = fast_hash()
    if args.seed is not None:
        with world.attached():
            result = run_seed(world, args.seed, password_hash)
        print(result.report() if not result.ok else
              f"seed {args.seed}: no violations ({result.seconds:.1f} s)\n  trace:\n    "
              + "\n    ".join(result.trace))
        return 0 if result.ok else 1
    summary = soak(world, range(args.first, args.first + args.seeds), password_hash,
                   budget=args.budget)
    print(table(summary))
    return 0 if not summary["failed_seeds"] else 1


if __name__ == "__main__":
    sys.exit(main())
