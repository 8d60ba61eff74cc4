"""TRUSTED_PROXIES: behind a reverse proxy, rate limits, lockouts and the audit log see the client.

Without the setting every X-Forwarded-For is ignored (a client could otherwise pick a fresh
address per request and never be limited); with it, only the value our own proxy appended
counts, so a client cannot spoof its way out from behind the proxy either.
"""
from __future__ import annotations

import pytest
from sqlalchemy import select

from config import ConfigError, load_config
from tests.conftest import dispose_engine

PROXY = "10.0.0.1"           # the load balancer: every request's TCP peer
ALICE, BOB = "203.0.113.5", "198.51.100.7"


@pytest.fixture
def build(app):
    """Platform apps on the suite's database and Redis, with their own settings."""
    from app import create_app

    built = []

    def make(**overrides):
        settings = load_config("test")
        settings.update(overrides)
        built.append(create_app(settings))
        return built[-1]

    yield make
    for other in built:
        dispose_engine(other)


def failed_login(client, forwarded_for: str | None, email: str = "nobody@example.com"):
    """A wrong password sent through the proxy, with whatever X-Forwarded-For it carries."""
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return client.post("/login", data={"email": email, "password": "wrong-password-1"},
                       headers=headers, environ_base={"REMOTE_ADDR": PROXY})


def last_login_origin() -> str:
    from app.extensions import db
    from app.models.audit import AuditRecord

    db.session.rollback()
    return db.session.execute(select(AuditRecord.origin).where(AuditRecord.action == "auth.login")
                              .order_by(AuditRecord.id.desc())).scalars().first()


def test_behind_one_proxy_the_rate_limit_counts_each_client_apart(build):
    proxied = build(TRUSTED_PROXIES=1, RATE_LIMITS={"login": (2, 60), "signup": (10, 60),
                                                     "checkout": (10, 60), "webhook": (10, 60)})
    client = proxied.test_client()
    assert [failed_login(client, ALICE).status_code for _ in range(3)] == [401, 401, 429]
    assert failed_login(client, BOB).status_code == 401


def test_without_trusted_proxies_a_forged_header_does_not_escape_the_rate_limit(build):
    plain = build(RATE_LIMITS={"login": (2, 60), "signup": (10, 60), "checkout": (10, 60),
                               "webhook": (10, 60)})
    client = plain.test_client()
    statuses = [failed_login(client, f"192.0.2.{n}").status_code for n in range(3)]
    assert statuses == [401, 401, 429]


def test_a_client_cannot_prepend_an_address_to_the_proxys_header(build):
    proxied = build(TRUSTED_PROXIES=1, RATE_LIMITS={"login": (2, 60), "signup": (10, 60),
                                                     "checkout": (10, 60), "webhook": (10, 60)})
    client = proxied.test_client()
    # The proxy appends the real peer; whatever the client wrote stays on the left.
    statuses = [failed_login(client, f"192.0.2.{n}, {ALICE}").status_code for n in range(3)]
    assert statuses == [401, 401, 429]
    assert last_login_origin() == ALICE


def test_behind_a_proxy_the_ip_lockout_locks_the_sprayer_not_the_site(build):
    proxied = build(TRUSTED_PROXIES=1, LOGIN_IP_LOCK_THRESHOLD=3)
    client = proxied.test_client()
    for n in range(3):
        assert failed_login(client, ALICE, f"victim{n}@example.com").status_code == 401
    assert failed_login(client, ALICE, "another@example.com").status_code == 429
    assert failed_login(client, BOB, "another@example.com").status_code == 401


def test_without_trusted_proxies_the_lockout_sees_the_peer_whatever_the_header_says(build):
    plain = build(LOGIN_IP_LOCK_THRESHOLD=3)
    client = plain.test_client()
    for n in range(3):
        failed_login(client, f"192.0.2.{n}", f"victim{n}@example.com")
    assert failed_login(client, BOB, "another@example.com").status_code == 429


def test_the_audit_log_records_the_client_behind_the_proxy_and_the_peer_without(build):
    failed_login(build(TRUSTED_PROXIES=1).test_client(), ALICE)
    assert last_login_origin() == ALICE
    failed_login(build().test_client(), ALICE)
    assert last_login_origin() == PROXY


def test_behind_a_proxy_the_forwarded_scheme_is_believed(build):
    from flask import request

    proxied = build(TRUSTED_PROXIES=1)
    seen = {}

    @proxied.get("/_proxy_probe")
    def probe():
        seen.update(scheme=request.scheme, addr=request.remote_addr)
        return "ok"

    proxied.test_client().get("/_proxy_probe", headers={"X-Forwarded-For": ALICE,
                                                        "X-Forwarded-Proto": "https"},
                              environ_base={"REMOTE_ADDR": PROXY})
    assert seen == {"scheme": "https", "addr": ALICE}


@pytest.mark.parametrize("value", ["-1", "two", "1.5"])
def test_a_hop_count_that_is_not_a_whole_number_refuses_to_load(monkeypatch, value):
    monkeypatch.setenv("TRUSTED_PROXIES", value)
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES"):
        load_config("test")
