"""Failed-login lockout and request rate limits, counted in Redis.

Lockout (PCI DSS 8.3.4: at most 10 failed attempts, then at least 30 minutes), designed so that
an attacker cannot lock a person out of their account:

- A login comes from a *source*: the IP address plus, when the browser has one, a device token
  (a random cookie handed out at a successful login). A source becomes *known* to an account
  when a login from it succeeds in full (authentication code included); the account remembers
  its known addresses and devices for KNOWN_SOURCE_DAYS.
- Per account: LOGIN_LOCK_THRESHOLD (10) failures from unknown sources lock the account for
  LOGIN_LOCK_SECONDS (30 minutes) against unknown sources only. Someone guessing passwords from
  anywhere on the internet therefore never keeps the owner out of the devices and addresses the
  owner already uses. While an attack goes on, a brand-new device waits for the lock to end.
- Per (account, IP): 10 failures from one address lock that address out of that account for 30
  minutes, known or not. This bounds guessing by whoever shares a known address (an office NAT)
  or holds a stolen device cookie.
- Per IP: LOGIN_IP_LOCK_THRESHOLD (100) failures across all accounts lock that address out of
  every account for 30 minutes (password spraying).

Counters are fixed windows of LOGIN_LOCK_SECONDS that start at the first failure. A locked
attempt is refused before the password is looked at (a correct password fails too), is not
counted, and never extends the lock. Unknown emails are counted like real ones, so a lock says
nothing about whether an account exists. Wrong authentication codes count as failures.

Rate limits are fixed windows per (limit name, client key); config RATE_LIMITS gives each
limit's (requests, seconds).
"""
from __future__ import annotations

import hashlib
import math
import re
import secrets
from dataclasses import dataclass
from typing import NamedTuple

from flask import current_app

from app import clock
from app.extensions import queues
from app.services.errors import ServiceError

_PREFIX = "throttle"
_DEVICE_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32}$")


class LockedOut(ServiceError):
    """Too many failed attempts: refused without looking at the credentials."""

    status = 429

    def __init__(self, retry_after: int):
        minutes = max(1, math.ceil(retry_after / 60))
        super().__init__("Too many failed attempts: logging in to this account from here is "
                         f"paused for your security. Please try again in {minutes} "
                         f"minute{'s' if minutes != 1 else ''}.")
        self.retry_after = retry_after


@dataclass(frozen=True)
class Source:
    """Where a login attempt comes from: an address, and the browser's device token if any."""

    ip: str
    device: str | None = None


class Lock(NamedTuple):
    """Which lock refuses an attempt, and for how many more seconds."""

    scope: str  # "ip", "account_ip" or "account"
    retry_after: int


def new_device_token() -> str:
    """A random token for the device cookie (32 URL-safe characters)."""
    return secrets.token_urlsafe(24)


def valid_device_token(value: str | None) -> str | None:
    """The token when it has the right shape, else None (anything else is ignored)."""
    return value if value and _DEVICE_TOKEN.match(value) else None


def _digest(value: str) -> str:
    # Redis never holds a plain email or a usable device token.
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def _keys(account: str, ip: str) -> dict[str, str]:
    acct = _digest(account)
    return {"ip": f"{_PREFIX}:ip:{ip}", "account_ip": f"{_PREFIX}:pair:{acct}:{ip}",
            "account": f"{_PREFIX}:acct:{acct}",
            "known_ips": f"{_PREFIX}:known-ip:{acct}",
            "known_devices": f"{_PREFIX}:known-dev:{acct}"}


def _is_known(keys: dict[str, str], source: Source) -> bool:
    redis = queues.connection
    if redis.sismember(keys["known_ips"], source.ip):
        return True
    return bool(source.device and redis.sismember(keys["known_devices"], _digest(source.device)))


def login_lock(account: str, source: Source) -> Lock | None:
    """The lock that refuses a login attempt on account from source, or None."""
    redis = queues.connection
    keys = _keys(account, source.ip)
    scopes = ["ip", "account_ip"]
    if not _is_known(keys, source):
        scopes.append("account")
    for scope in scopes:
        ttl = redis.ttl(f"{keys[scope]}:lock")
        if ttl and ttl > 0:
            return Lock(scope, ttl)
    return None


def login_failed(account: str, source: Source) -> None:
    """Count a failed password or authentication code; lock what reached its threshold."""
    cfg = current_app.config
    keys = _keys(account, source.ip)
    counted = [("ip", cfg["LOGIN_IP_LOCK_THRESHOLD"]), ("account_ip", cfg["LOGIN_LOCK_THRESHOLD"])]
    if not _is_known(keys, source):
        counted.append(("account", cfg["LOGIN_LOCK_THRESHOLD"]))
    redis = queues.connection
    window = cfg["LOGIN_LOCK_SECONDS"]
    for scope, threshold in counted:
        count = redis.incr(keys[scope])
        if count == 1:
            redis.expire(keys[scope], window)
        if count >= threshold:
            redis.set(f"{keys[scope]}:lock", "1", ex=window)
            redis.delete(keys[scope])


def login_succeeded(account: str, source: Source) -> None:
    """Remember source as known to the account and forget its failures from that address."""
    keys = _keys(account, source.ip)
    ttl = current_app.config["KNOWN_SOURCE_DAYS"] * 86400
    redis = queues.connection
    pipe = redis.pipeline()
    pipe.sadd(keys["known_ips"], source.ip).expire(keys["known_ips"], ttl)
    if source.device:
        pipe.sadd(keys["known_devices"], _digest(source.device))
        pipe.expire(keys["known_devices"], ttl)
    pipe.delete(keys["account_ip"])
    pipe.execute()


class RateCount:
    """One request counted against limit `name` for `key`, queued on a caller's pipeline so
    that the count shares a round trip with the caller's own reads (checkout's fraud gate)."""

    def __init__(self, name: str, key: str):
        self.limit, self.window = current_app.config["RATE_LIMITS"][name]
        self.now = clock.timestamp()
        self.counter = f"{_PREFIX}:rate:{name}:{key}:{int(self.now // self.window)}"
        self.retry_after: int | None = None  # set by take(): seconds to wait when over it

    def queue(self, pipe) -> int:
        """Queue the count; how many answers it adds to the pipeline's."""
        pipe.incr(self.counter).expire(self.counter, self.window + 1)
        return 2

    def take(self, answers: list) -> int | None:
        """Read the queued commands' answers: seconds to wait when over the limit, else None."""
        if answers[0] > self.limit:
            self.retry_after = max(1, math.ceil(self.window - self.now % self.window))
        return self.retry_after


def rate_limit_hit(name: str, key: str) -> int | None:
    """Count one request against limit name for key; seconds to wait when over it, else None."""
    count = RateCount(name, key)
    pipe = queues.connection.pipeline()
    count.queue(pipe)
    return count.take(pipe.execute())
