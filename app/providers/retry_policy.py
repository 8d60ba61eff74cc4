"""What the guard (resilience.py) may retry and how patiently, and which failures count against
a provider's breaker. Pure rules over ProviderError: no I/O, so they are tested on their own.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

from app.providers.base import ProviderError, ProviderTimeout


class CircuitOpen(ProviderError):
    """The provider's breaker is open: the call was never sent."""

    def __init__(self, provider: str):
        super().__init__(f"{provider} is failing; its circuit breaker is open", code="circuit_open",
                         retryable=True, executed=False)


@dataclass
class RetryPolicy:
    """How often and how patiently a call is retried."""

    attempts: int = 3               # calls in all, the first included
    base_delay: float = 0.2         # seconds before the first retry (doubles each time)
    max_delay: float = 2.0          # cap of one backoff
    budget: float = 15.0            # seconds for all attempts and waits together
    sleep: object = time.sleep
    clock: object = time.monotonic
    rng: random.Random = field(default_factory=random.Random)

    def backoff(self, retry: int, error: ProviderError) -> float:
        """Seconds to wait before retry number `retry` (1-based): full jitter, or Retry-After."""
        retry_after = getattr(error, "retry_after", None)
        if error.status == 429 and retry_after:
            return float(retry_after) + self.rng.uniform(0, self.base_delay)
        return self.rng.uniform(0, min(self.max_delay, self.base_delay * 2 ** (retry - 1)))


def counts_against_breaker(error: ProviderError) -> bool:
    """True when the error says the PSP is unwell rather than answering."""
    if isinstance(error, CircuitOpen):
        return False
    return error.retryable and error.status not in (409, 429)


def may_retry(error: ProviderError, keyed: bool) -> bool:
    """Whether repeating the same call is safe and useful."""
    if not error.retryable or isinstance(error, (ProviderTimeout, CircuitOpen)):
        return False
    return keyed or error.executed is False
