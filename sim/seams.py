"""The run's stand-ins for what would make a replay differ: the clock (`SimClock`, and
`SimTime` for the sandbox PSP's modules), the random tokens of `secrets` (`SeededSecrets`) and
each concern's random stream (`seeded`). sim/world installs them while a world is attached."""
from __future__ import annotations

import base64
import random
import time

# A fixed future instant (a Tuesday, 09:00 UTC), later than any wall clock the suite runs at.
SIM_START = 1893488400.0  # 2030-01-01 09:00:00 UTC


class SimClock:
    """Seconds since the epoch that move only when the simulation says so."""

    def __init__(self, start: float):
        self.t = start

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


class SimTime:
    """The `time` module as the sandbox PSP's modules see it in a run: `time()` is the run's
    clock. Without it the PSP stamped sessions, payouts and deliveries with the wall clock
    while its deliverer ran on the run's (years later): every session expired at the first
    delivery, a session paid hours after its expiry was authorized, payouts settled at once."""

    def __init__(self, clock: SimClock):
        self.clock = clock

    def time(self) -> float:
        return self.clock()

    def __getattr__(self, name):
        return getattr(time, name)


# The sandbox PSP's modules that read the time (each `import time`).
PSP_TIMED = ("models", "sessions", "payouts", "events", "tokens", "webhooks")


class SeededSecrets:
    """`secrets` as the code sees it in a run: the same tokens for the same seed and step.

    The PSP's object ids (`ps_…`, `po_…`, `dp_…`) and our idempotency keys come from
    `secrets`; steps pick objects in id order (a payout to return, a dispute to close) and
    traces name them, so random ids made a seed's run differ from its replay. Each step draws
    from its own stream (`reseed`), so a shrunk subset of steps keeps each kept step's ids.
    Nothing here protects anything: a simulation has no secrets to keep."""

    NAMES = ("token_hex", "token_urlsafe", "token_bytes", "choice", "randbelow")

    def __init__(self):
        self.rng = random.Random(0)

    def token_bytes(self, nbytes=None) -> bytes:
        return self.rng.randbytes(32 if nbytes is None else nbytes)

    def token_hex(self, nbytes=None) -> str:
        return self.token_bytes(nbytes).hex()

    def token_urlsafe(self, nbytes=None) -> str:
        return base64.urlsafe_b64encode(self.token_bytes(nbytes)).rstrip(b"=").decode()

    def choice(self, seq):
        return self.rng.choice(seq)

    def randbelow(self, n: int) -> int:
        return self.rng.randrange(n)


def seeded(seed: int, what: str) -> random.Random:
    """The random stream of one concern of one run (workload, jobs, clock)."""
    return random.Random(f"{what}:{seed}")
