"""Login lockout (10 failures → 30 minutes) that an attacker cannot turn against the owner,
and the fixed-window rate limits."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditRecord
from app.services.audit import Actor
from app.services.security import accounts, throttle
from app.services.security.throttle import LockedOut, Source
from tests.flows import PASSWORD

EMAIL = "buyer@test.example"
OWNER_IP, ATTACKER_IP = "192.0.2.10", "203.0.113.66"


def attempt(password: str, ip: str = ATTACKER_IP, device: str | None = None,
            email: str = EMAIL):
    return accounts.authenticate(email, password, Actor("anonymous", ip), device)


def fail(times: int, ip: str = ATTACKER_IP, device: str | None = None,
         email: str = EMAIL) -> None:
    for _ in range(times):
        assert attempt("wrong-password-x", ip, device, email) is None


def owner_logged_in_before(ip: str = OWNER_IP, device: str | None = None) -> None:
    """What the login page does after a complete, successful login."""
    throttle.login_succeeded(EMAIL, Source(ip, device))


def test_ten_failures_lock_the_account_and_even_the_right_password_fails(people):
    fail(9)
    assert attempt(PASSWORD) is not None  # nine failures: still open
    fail(1)
    with pytest.raises(LockedOut) as locked:
        attempt(PASSWORD)
    # At least 30 minutes (PCI DSS 8.3.4), counted from the tenth failure.
    assert 1790 <= locked.value.retry_after <= 1800
    assert "30 minutes" in locked.value.message
    record = db.session.execute(select(AuditRecord).order_by(AuditRecord.id.desc())
                                .limit(1)).scalar_one()
    assert (record.action, record.outcome) == ("auth.login", "failure")
    assert json.loads(record.details)["reason"] == "locked"


def test_the_lock_also_holds_for_other_unknown_addresses(people):
    fail(10, ip="203.0.113.1")
    with pytest.raises(LockedOut) as locked:
        attempt(PASSWORD, ip="203.0.113.2")
    assert locked.value.retry_after > 0


def lock_keys() -> list[str]:
    from app.extensions import queues

    return sorted(k.decode() for k in queues.connection.keys("throttle:*:lock"))


def test_the_lock_ends_after_its_time(app, people, monkeypatch):
    """The lock is a Redis key that expires LOGIN_LOCK_SECONDS after the tenth failure: its TTL
    is read, and its expiry is Redis dropping the key (no sleeping past the window)."""
    from app.extensions import queues

    fail(9)
    monkeypatch.setitem(app.config, "LOGIN_LOCK_SECONDS", 600)  # the lock the tenth one sets
    fail(1)
    with pytest.raises(LockedOut) as locked:
        attempt(PASSWORD)
    assert 590 <= locked.value.retry_after <= 600
    keys = lock_keys()
    assert keys and all(0 < queues.connection.ttl(k) <= 600 for k in keys)
    for key in keys:  # the window has passed: Redis drops what it set to expire
        queues.connection.pexpire(key, 1)
    assert _eventually_gone(keys)
    assert attempt(PASSWORD) is not None


def _eventually_gone(keys: list[str]) -> bool:
    from app.extensions import queues
    from tests.flows import eventually

    return eventually(lambda: not any(queues.connection.exists(k) for k in keys))


def test_locked_attempts_do_not_extend_the_lock(app, people, monkeypatch):
    from app.extensions import queues

    fail(9)
    monkeypatch.setitem(app.config, "LOGIN_LOCK_SECONDS", 600)
    fail(1)
    keys = lock_keys()
    before = {k: queues.connection.pttl(k) for k in keys}
    counters = {k: queues.connection.get(k) for k in queues.connection.keys("throttle:*:*")
                if queues.connection.type(k) == b"string"}
    for _ in range(5):
        with pytest.raises(LockedOut):
            attempt("wrong-password-x")
    assert lock_keys() == keys  # no new lock
    assert counters == {k: queues.connection.get(k) for k in queues.connection.keys(
        "throttle:*:*") if queues.connection.type(k) == b"string"}  # nothing counted
    after = {k: queues.connection.pttl(k) for k in keys}
    assert all(0 < after[k] <= before[k] for k in keys)  # counting down, never pushed back


def test_an_attacker_cannot_lock_the_owner_out_of_a_known_address(people):
    owner_logged_in_before(OWNER_IP)
    fail(10)
    for n in range(15):  # the attacker keeps going, from anywhere new
        with pytest.raises(LockedOut):
            attempt(PASSWORD, ip=f"203.0.113.{100 + n}")
    assert attempt(PASSWORD, ip=OWNER_IP) is not None


def test_an_attacker_cannot_lock_the_owner_out_of_a_known_device_on_a_new_address(people):
    token = throttle.new_device_token()
    owner_logged_in_before("192.0.2.99", token)
    fail(10)
    assert attempt(PASSWORD, ip="198.51.100.200", device=token) is not None
    with pytest.raises(LockedOut):  # the same new address without the device is locked
        attempt(PASSWORD, ip="198.51.100.200")


def test_a_forged_device_token_is_not_known(people):
    owner_logged_in_before(OWNER_IP, throttle.new_device_token())
    fail(10)
    with pytest.raises(LockedOut):
        attempt(PASSWORD, device=throttle.new_device_token())
    assert throttle.valid_device_token("short") is None
    assert throttle.valid_device_token("x" * 31 + "!") is None


def test_a_known_address_still_gets_only_ten_guesses(people):
    owner_logged_in_before(OWNER_IP)
    fail(10, ip=OWNER_IP)  # someone behind the owner's NAT, guessing
    with pytest.raises(LockedOut) as locked:
        attempt(PASSWORD, ip=OWNER_IP)
    assert 1790 <= locked.value.retry_after <= 1800
    assert attempt(PASSWORD, ip="192.0.2.11") is not None  # the account is not locked elsewhere


def test_a_successful_login_clears_that_addresses_failures(people):
    owner_logged_in_before(OWNER_IP)
    fail(9, ip=OWNER_IP)
    assert attempt(PASSWORD, ip=OWNER_IP) is not None
    owner_logged_in_before(OWNER_IP)
    fail(9, ip=OWNER_IP)
    assert attempt(PASSWORD, ip=OWNER_IP) is not None


def test_unknown_emails_lock_exactly_like_real_ones(people):
    fail(10, email="nobody@test.example")
    with pytest.raises(LockedOut) as locked:
        attempt("anything-at-all", email="nobody@test.example")
    assert 1790 <= locked.value.retry_after <= 1800


def test_emails_are_counted_case_insensitively(people):
    fail(5, email="BUYER@test.example")
    fail(5, email=" buyer@TEST.example ")
    with pytest.raises(LockedOut):
        attempt(PASSWORD)


def test_one_address_spraying_many_accounts_is_locked_out_of_all(app, people, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_IP_LOCK_THRESHOLD", 12)
    for n in range(12):
        fail(1, email=f"victim{n}@test.example")
    with pytest.raises(LockedOut):
        attempt(PASSWORD)  # a thirteenth account, never tried before
    assert attempt(PASSWORD, ip=OWNER_IP) is not None


def test_each_lock_covers_only_what_it_should(people):
    fail(10)
    source = Source(ATTACKER_IP)
    assert throttle.login_lock(EMAIL, source).scope in ("account_ip", "account")
    assert throttle.login_lock("seller@test.example", source) is None


def test_rate_limit_counts_per_key_and_says_when_to_come_back(app, monkeypatch, platform_clock):
    monkeypatch.setitem(app.config, "RATE_LIMITS", {"login": (3, 60)})
    platform_clock.freeze(1_800_000_000 + 15)  # 15 s into a window: all four calls in it
    assert [throttle.rate_limit_hit("login", "ip:a") for _ in range(3)] == [None] * 3
    assert throttle.rate_limit_hit("login", "ip:a") == 45  # the window's end
    assert throttle.rate_limit_hit("login", "ip:b") is None


def test_rate_limit_window_rolls_over(app, monkeypatch, platform_clock):
    # (Redis drops a window's counter window + 1 s of real time after its first hit: a long
    # window keeps that out of the test's way however slowly it runs.)
    monkeypatch.setitem(app.config, "RATE_LIMITS", {"signup": (1, 600)})
    platform_clock.freeze(1_800_000_000)
    assert throttle.rate_limit_hit("signup", "ip:a") is None
    platform_clock.advance(599.5)
    assert throttle.rate_limit_hit("signup", "ip:a") == 1  # same window, half a second left
    platform_clock.advance(0.5)  # the next window opens
    assert throttle.rate_limit_hit("signup", "ip:a") is None
    assert throttle.rate_limit_hit("signup", "ip:a") is not None


def test_redis_holds_no_plain_email_or_device_token(app, people):
    from app.extensions import queues

    token = throttle.new_device_token()
    owner_logged_in_before(OWNER_IP, token)
    fail(3)
    redis = queues.connection
    keys = [k.decode() for k in redis.keys("throttle:*")]
    assert keys and not any("buyer" in k for k in keys)
    members = [m.decode() for k in redis.keys("throttle:known-dev:*") for m in redis.smembers(k)]
    assert members and token not in members


def test_the_pci_numbers_hold_in_every_environment():
    from config import CONFIGS

    for config in CONFIGS.values():
        assert config.LOGIN_LOCK_THRESHOLD <= 10 and config.LOGIN_LOCK_SECONDS >= 30 * 60
        assert config.STAFF_IDLE_SECONDS <= 15 * 60
    assert accounts.min_password_length("support") == accounts.min_password_length("admin") == 12


def test_rate_limits_come_from_the_environment(monkeypatch):
    from config import ProductionConfig, rate_limits_from_env

    monkeypatch.setenv("RATE_LIMIT_LOGIN", "5/30")
    monkeypatch.setenv("RATE_LIMIT_WEBHOOK", "50")
    limits = rate_limits_from_env(ProductionConfig.RATE_LIMITS)
    assert limits["login"] == (5, 30) and limits["webhook"] == (50, 60)
    assert limits["signup"] == ProductionConfig.RATE_LIMITS["signup"]
