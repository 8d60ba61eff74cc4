"""Per-provider circuit breaker and client-side rate limit, shared by every process via Redis.

Breaker: closed → open after `threshold` consecutive failures → after `cooldown` seconds one
caller gets a half-open probe (others are still refused) → closed when the probe succeeds, open
again when it fails. Rate limit: a token bucket of `rate` calls per second with `burst` capacity.

Both keep their state in one Redis hash each, changed by Lua scripts so that two processes
never interleave a read-modify-write. Timestamps come from the caller's clock (wall time, as
processes share it), which lets tests drive time without waiting. When Redis itself fails the
guard lets the call through: an unreachable Redis must not take payments down with it.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import redis

log = logging.getLogger(__name__)

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"

# The scripts are Lua functions so that the guard's admission (breaker, then bucket) runs as
# one script: one Redis round trip before every PSP call instead of two (and a third after).
_ALLOW_FN = """
local function allow(key, now, cooldown)
  local state = redis.call('HGET', key, 'state') or 'closed'
  if state == 'closed' then return 'closed' end
  if state == 'open' then
    local opened = tonumber(redis.call('HGET', key, 'opened_at') or '0')
    if now - opened < cooldown then return 'open' end
    redis.call('HSET', key, 'state', 'half_open', 'probe_at', tostring(now))
    return 'probe'
  end
  -- half open: one probe at a time; a probe that never reported (its process died) expires
  local probe = tonumber(redis.call('HGET', key, 'probe_at') or '0')
  if now - probe < cooldown then return 'open' end
  redis.call('HSET', key, 'probe_at', tostring(now))
  return 'probe'
end
"""
_ALLOW = _ALLOW_FN + "return allow(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]))"

_FAILURE = """
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
if state == 'half_open' or (state == 'closed' and failures >= tonumber(ARGV[2])) then
  redis.call('HSET', KEYS[1], 'state', 'open', 'opened_at', ARGV[1])
  return 'open'
end
return state
"""

_SUCCESS = """
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
if state == 'open' then return 'open' end  -- a straggler from before it opened proves little
redis.call('HSET', KEYS[1], 'state', 'closed', 'failures', 0)
return 'closed'
"""

_TAKE_FN = """
local function take(key, rate, burst, now)
  local tokens = tonumber(redis.call('HGET', key, 'tokens') or burst)
  local stamp = tonumber(redis.call('HGET', key, 'stamp') or now)
  tokens = math.min(burst, tokens + math.max(0, now - stamp) * rate)
  local wait = 0
  if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
  redis.call('HSET', key, 'tokens', tostring(tokens), 'stamp', tostring(now))
  return wait
end
"""
_TAKE = _TAKE_FN + ("return tostring(take(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), "
                    "tonumber(ARGV[3])))")

# Breaker, then (unless it is open) a token; "clean": closed with no failure counted, so a
# success after it has nothing to reset and the guard skips record_success.
_ADMIT = _ALLOW_FN + _TAKE_FN + """
local state = allow(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]))
if state == 'open' then return {state, 0, '0'} end
local clean = 0
if state == 'closed' and tonumber(redis.call('HGET', KEYS[1], 'failures') or '0') == 0 then
  clean = 1
end
local wait = 0
if #KEYS > 1 then
  wait = take(KEYS[2], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]))
end
return {state, clean, tostring(wait)}
"""


@dataclass
class CircuitBreaker:
    """The breaker of one provider."""

    connection: redis.Redis
    provider: str
    threshold: int = 5
    cooldown: float = 30.0
    clock: object = time.time

    @property
    def key(self) -> str:
        return f"holdfast:breaker:{self.provider}"

    def allow(self) -> str:
        """"closed" (go), "probe" (go: the one half-open trial) or "open" (refused)."""
        return self._run(_ALLOW, self.clock(), self.cooldown, fallback=CLOSED)

    def admit(self, bucket: TokenBucket | None = None) -> tuple[str, bool, float]:
        """allow(), then bucket.take() unless open, in one script: (state, clean, wait), where
        clean means closed with no failure counted (a success has nothing to reset)."""
        keys = [self.key] + ([bucket.key] if bucket is not None else [])
        now = self.clock()
        args = [now, self.cooldown] + ([bucket.rate, bucket.burst, bucket.clock()]
                                       if bucket is not None else [])
        try:
            state, clean, wait = self.connection.eval(_ADMIT, len(keys), *keys, *args)
        except redis.RedisError:
            log.warning("circuit breaker of %s unavailable (Redis); letting calls through",
                        self.provider)
            return CLOSED, False, 0.0
        return _text(state), bool(int(clean)), float(_text(wait))

    def record_success(self) -> str:
        """The PSP answered sensibly: a probe closes the breaker, failures reset."""
        return self._run(_SUCCESS, fallback=CLOSED)

    def record_failure(self) -> str:
        """The PSP failed (5xx, timeout, unreachable); returns the state after counting it."""
        return self._run(_FAILURE, self.clock(), self.threshold, fallback=CLOSED)

    def state(self) -> dict:
        """The shared state, for /healthz and support pages."""
        try:
            raw = self.connection.hgetall(self.key)
        except redis.RedisError:
            return {"state": "unknown"}
        data = {_text(k): _text(v) for k, v in raw.items()}
        return {"state": data.get("state", CLOSED), "failures": int(data.get("failures", 0))}

    def _run(self, script: str, *args, fallback: str) -> str:
        try:
            answer = self.connection.eval(script, 1, self.key, *args)
        except redis.RedisError:
            log.warning("circuit breaker of %s unavailable (Redis); letting calls through",
                        self.provider)
            return fallback
        return _text(answer)


def _text(value) -> str:
    # Clients built with decode_responses answer str, the others bytes.
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass
class TokenBucket:
    """The client-side rate limit of one provider."""

    connection: redis.Redis
    provider: str
    rate: float = 25.0      # calls per second (Stripe's sandbox limit)
    burst: float = 25.0
    clock: object = time.time

    @property
    def key(self) -> str:
        return f"holdfast:ratelimit:{self.provider}"

    def take(self) -> float:
        """Take a token: 0.0 when granted, else the seconds to wait before asking again."""
        try:
            answer = self.connection.eval(_TAKE, 1, self.key, self.rate, self.burst,
                                          self.clock())
        except redis.RedisError:
            log.warning("rate limit of %s unavailable (Redis); not limiting", self.provider)
            return 0.0
        return float(_text(answer))
