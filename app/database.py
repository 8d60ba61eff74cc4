"""Transactions: one write transaction per use case, locked the right way for each database.

SQLite (WAL) lets a deferred transaction read and then fail at once when it tries to write after
another writer committed, so every write transaction starts with BEGIN IMMEDIATE there. PostgreSQL
uses row locks (SELECT … FOR UPDATE), which are a no-op on SQLite.
"""
from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import event, select
from sqlalchemy.engine import Engine

from app.extensions import db

WRITE_OPTION = "holdfast_write"


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
        cursor.execute("PRAGMA busy_timeout=10000")
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
        session.commit()
    except BaseException:
        session.rollback()
        raise


def locked(model, ident):
    """Load one row for update (FOR UPDATE on PostgreSQL; the transaction lock on SQLite)."""
    return db.session.execute(
        select(model).where(model.id == ident).with_for_update()
    ).scalar_one_or_none()


def is_postgresql() -> bool:
    """True when the app runs on PostgreSQL."""
    return db.engine.dialect.name == "postgresql"
