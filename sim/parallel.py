"""One process's share of a parallel soak (`make soak SOAK_JOBS=N`): importable by name, as
multiprocessing's spawn needs (a function of `python -m sim`'s __main__ is not)."""
from __future__ import annotations

import logging
import warnings


def share(job: tuple) -> dict:
    """Soak `seeds` in a world of its own (temp SQLite files, its own Redis); the summary."""
    seeds, budget, shrink = job
    logging.disable(logging.WARNING)   # the platform logs every expected PSP failure
    warnings.simplefilter("ignore")
    from sim.run import soak
    from sim.world import fast_hash, standalone

    return soak(standalone(), seeds, fast_hash(), budget=budget, shrink=shrink,
                on_failure=lambda report: print(report, flush=True))
