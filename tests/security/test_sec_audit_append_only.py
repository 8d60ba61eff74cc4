"""PCI DSS 10.3: on PostgreSQL the database itself refuses to rewrite the audit log (migration
0007's trigger), whatever role the application connects as — CI's superuser included."""
from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.database import is_postgresql, unit_of_work
from app.extensions import db
from app.models import AuditRecord
from app.services import audit
from app.services.audit import Actor

ACTOR = Actor("auditor@test.example", "127.0.0.1")


@pytest.fixture
def entry_id(app) -> int:
    if not is_postgresql():
        pytest.skip("SQLite has no triggers from migration 0007; there `flask audit verify` "
                    "is the protection (tests/cli/test_cli_audit.py)")
    with unit_of_work():
        return audit.record(ACTOR, "test.step", "thing:1", step=1).id


@pytest.mark.parametrize("statement", [
    "UPDATE audit_log SET details = '{}' WHERE id = :id",
    "UPDATE audit_log SET outcome = 'failure', hash = hash WHERE id = :id",
    "DELETE FROM audit_log WHERE id = :id",
    "DELETE FROM audit_log",
])
def test_rewriting_history_is_refused(app, entry_id, statement):
    with pytest.raises(DBAPIError, match="append-only"):
        db.session.execute(text(statement), {"id": entry_id})
        db.session.commit()
    db.session.rollback()
    kept = db.session.get(AuditRecord, entry_id)
    assert kept is not None and kept.details == '{"step": 1}' and kept.outcome == "success"
    assert audit.verify_chain() == []


def test_an_orm_update_is_refused_too(app, entry_id):
    db.session.get(AuditRecord, entry_id).target = "thing:2"
    with pytest.raises(DBAPIError, match="append-only"):
        db.session.commit()
    db.session.rollback()


def test_appending_still_works(app, entry_id):
    with unit_of_work():
        second = audit.record(ACTOR, "test.step", "thing:2", step=2).id
    assert second > entry_id
    assert audit.verify_chain() == []


def test_the_trigger_is_installed_and_enabled(app, entry_id):
    enabled = db.session.execute(text(
        "SELECT tgenabled FROM pg_trigger WHERE tgname = 'audit_log_append_only' "
        "AND tgrelid = 'audit_log'::regclass")).scalar_one_or_none()
    assert enabled == "O"  # fires in ordinary sessions
