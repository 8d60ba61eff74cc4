"""Sliding-window counts in Redis: attempts, declines and distinct cards per buyer, card
fingerprint, IP address, device cookie and email domain.

Each (count, key kind, value) is a sorted set scored by time: attempts and declines add one
member per event (an id, so a report applied twice counts once), cards add the fingerprint
itself (re-adding moves its time), so ZCOUNT over [now - window, now] is the number of events
or of distinct cards in any window, exactly, with no bucket edges. Sets are trimmed to the
longest window kept and expire when idle.
"""
from __future__ import annotations

import hashlib
import logging

from redis.exceptions import RedisError

from app import clock
from app.domain.fraud import Window
from app.extensions import queues

log = logging.getLogger(__name__)
_PREFIX = "fraud:v"
KEEP_SECONDS = 2 * 86400  # the longest window a rule may use is well inside this


def _key(count: str, kind: str, value: str) -> str:
    # Values are hashed: no email address or IP address sits in Redis in clear.
    digest = hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()[:24]
    return f"{_PREFIX}:{count}:{kind}:{digest}"


def record(count: str, identities: dict[str, str | None], member: str) -> None:
    """Note one event (`count` attempts|declines|cards) for every known identity."""
    pipe = queues.connection.pipeline()
    _add(pipe, count, identities, member, clock.timestamp())
    try:
        pipe.execute()
    except RedisError:
        # Like the rate limits: a Redis outage must not take checkout down with it. The event
        # is lost to the windows; lists, amounts and the PSP's verdict still screen.
        log.warning("fraud velocity not recorded: Redis unavailable")


def _add(pipe, count: str, identities: dict[str, str | None], member: str, at: float) -> None:
    for kind, value in identities.items():
        if not value:
            continue
        key = _key(count, kind, value)
        pipe.zadd(key, {member: at})
        pipe.zremrangebyscore(key, "-inf", at - KEEP_SECONDS)
        pipe.expire(key, KEEP_SECONDS)


def counts(windows, identities: dict[str, str | None],
           then_record: tuple[str, str] | None = None) -> dict[str, int]:
    """Signal name → count in its window, for every window whose identity is known.
    `then_record` (count, member): note that event after counting, in the same round trip
    (screening counts an attempt's windows, then adds the attempt)."""
    at = clock.timestamp()
    wanted: list[Window] = [w for w in windows if identities.get(w.key)]
    pipe = queues.connection.pipeline()
    for window in wanted:
        pipe.zcount(_key(window.count, window.key, identities[window.key]),
                    at - window.seconds, "+inf")
    if then_record is not None:
        _add(pipe, then_record[0], identities, then_record[1], at)
    try:
        found = pipe.execute()[:len(wanted)]
    except RedisError:
        log.warning("fraud velocity unknown: Redis unavailable")
        return {}  # unknown signals never match: screening goes on without them
    return {w.signal: int(n) for w, n in zip(wanted, found, strict=True)}


def gate_state(identities: dict[str, str | None], seconds: int,
               ahead=None) -> tuple[float | None, int]:
    """(when the latest throttle on any identity ends or None, the worst burst of declines or
    distinct cards in the last `seconds`), read in one Redis round trip: the card-testing gate
    runs before every checkout request, so its reads must not cost one round trip each.
    `ahead`: commands to send first in that same round trip (the request's rate-limit count,
    throttle.RateCount): its `queue(pipe)` is called first, its `take(answers)` with its own."""
    at = clock.timestamp()
    known = [(kind, value) for kind, value in identities.items() if value]
    # A transaction only when a count rides along: its INCR and EXPIRE must not come apart.
    pipe = queues.connection.pipeline(transaction=ahead is not None)
    first = ahead.queue(pipe) if ahead is not None else 0
    for kind, value in known:
        pipe.get(f"fraud:throttle:{_key('t', kind, value)}")
    if seconds:
        for kind, value in known:
            for count in ("declines", "cards"):
                pipe.zcount(_key(count, kind, value), at - seconds, "+inf")
    answers = pipe.execute()
    if ahead is not None:
        ahead.take(answers[:first])
        answers = answers[first:]
    ends = [float(until) for until in answers[:len(known)] if until and float(until) > at]
    return max(ends, default=None), max((int(n) for n in answers[len(known):]), default=0)


def throttle(identity_kind: str, value: str, seconds: int) -> bool:
    """Throttle an identity for `seconds`; True when it was not throttled already (alert once)."""
    until = clock.timestamp() + seconds
    return bool(queues.connection.set(f"fraud:throttle:{_key('t', identity_kind, value)}",
                                      until, ex=seconds, nx=True))
