"""Transactions: one write transaction per use case, locked the right way for each database.

SQLite (WAL) lets a deferred transaction read and then fail at once when it tries to write after
another writer committed, so every write transaction starts with BEGIN IMMEDIATE there. PostgreSQL
uses row locks (SELECT … FOR UPDATE), which are a no-op on SQLite.
"""
from __future__ import annotations

import functools
import logging
import random
import time
from contextlib import contextmanager

from sqlalchemy import event, inspect, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from app import pause_points
from app.extensions import db

log = logging.getLogger(__name__)

WRITE_OPTION = "holdfast_write"
# How long SQLite waits for another writer before "database is locked" (milliseconds).
SQLITE_BUSY_MS = 10_000
# SQLSTATEs PostgreSQL uses for "try the whole transaction again": serialization failure,
# deadlock detected.
_RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})
TRANSACTION_ATTEMPTS = 4


def configure_engine(engine: Engine) -> None:
    """Install SQLite pragmas and explicit BEGINs; nothing to do for other databases."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Take transaction control away from pysqlite so BEGIN IMMEDIATE is ours to send.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_MS)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        immediate = conn.get_execution_options().get(WRITE_OPTION)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@contextmanager
def unit_of_work():
    """A write transaction that commits on success and rolls back on any error.

    Only services use this. A read transaction the request already opened (loading the user,
    say) is ended first: a write must start from a fresh snapshot under the write lock.
    """
    session = db.session()  # the real Session behind the scoped proxy
    if session.in_transaction():
        session.rollback()
    session.connection(execution_options={WRITE_OPTION: True})
    try:
        yield session
        pause_points.before_commit()
        session.commit()
    except BaseException:
        session.rollback()
        raise


_LOCKED = "holdfast_locked_rows"  # session.info: (transaction, {(model, id): row it locked})


def locked(model, ident):
    """Load one row for update (FOR UPDATE on PostgreSQL; the transaction lock on SQLite).

    A row this transaction already locked is not read again: the lock (on SQLite, the write
    lock or the read snapshot) keeps anybody else from changing it, and the session holds what
    this transaction made of it. A webhook's capture locks its order three times (duplicate
    check, order paid, fulfilment); each read also refreshed the order and reloaded its lines.
    The rows are kept referenced until the transaction ends: the session's identity map holds
    objects only weakly, so a row nobody kept would be read again anyway.
    """
    session = db.session()
    transaction = session.get_transaction()
    held = session.info.get(_LOCKED)
    if held is not None and held[0] is transaction and transaction is not None:
        row = held[1].get((model, ident))
        if row is not None and inspect(row).persistent:
            return row
    row = session.execute(select(model).where(model.id == ident).with_for_update()
                          ).scalar_one_or_none()
    transaction = session.get_transaction()  # the one this read began, if none was open
    if held is None or held[0] is not transaction:
        held = session.info[_LOCKED] = (transaction, {})
    if row is not None:
        held[1][(model, ident)] = row
    return row


def is_postgresql() -> bool:
    """True when the app runs on PostgreSQL."""
    return db.engine.dialect.name == "postgresql"


def is_transient(exc: BaseException) -> bool:
    """True for a failure the database asks us to retry: SQLite's "database is locked" (another
    writer outlasted the busy timeout), PostgreSQL's serialization failure or deadlock."""
    if not isinstance(exc, DBAPIError):
        return False
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate in _RETRYABLE_SQLSTATES:
        return True
    return "database is locked" in str(exc.orig)


class Contended(Exception):
    """The database refused the transaction as contended on every attempt."""


def retry_transient(func=None, *, attempts: int | None = None, sleep=time.sleep):
    """Run a whole transaction again (with jittered backoff) when the database refused it as
    contended, at most `attempts` times in all; then raise Contended (a 409 for the caller).

    Only for functions whose every side effect is inside their own unit_of_work: re-running
    them after a rollback is then the same as running them once.
    """
    def decorate(inner):
        @functools.wraps(inner)
        def wrapped(*args, **kwargs):
            tries = attempts or TRANSACTION_ATTEMPTS
            for attempt in range(1, tries + 1):
                try:
                    return inner(*args, **kwargs)
                except DBAPIError as exc:
                    if not is_transient(exc):
                        raise
                    db.session.rollback()
                    if attempt == tries:
                        raise Contended(f"{inner.__qualname__}: {exc.orig}") from exc
                    delay = random.uniform(0, 0.05 * 2 ** attempt)
                    log.info("%s: %s; attempt %d of %d in %.3fs", inner.__qualname__,
                             type(exc.orig).__name__, attempt + 1, tries, delay)
                    sleep(delay)
            raise AssertionError("unreachable")
        return wrapped

    return decorate(func) if func is not None else decorate
