"""`flask audit verify`: an intact chain passes; any edit, removal or insertion is named."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text

from app.clock import now
from app.database import is_postgresql, unit_of_work
from app.extensions import db
from app.models import AuditRecord
from app.services import audit
from app.services.audit import Actor

ACTOR = Actor("auditor@test.example", "127.0.0.1")


@pytest.fixture(autouse=True)
def dba_attacker(app):
    """These tests play a DBA-level attacker, who can switch off the append-only trigger that
    migration 0007 installs on PostgreSQL; it is switched back on afterwards."""
    if not is_postgresql():
        yield
        return
    _sql("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
    yield
    db.session.rollback()
    _sql("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")


@pytest.fixture
def chain(app) -> list[int]:
    """Five audit records written through the service; their ids in order."""
    ids = []
    for n in range(5):
        with unit_of_work():
            ids.append(audit.record(ACTOR, "test.step", f"thing:{n}", step=n).id)
    return ids


def _verify(app):
    db.session.rollback()  # the command reads what is committed
    return app.test_cli_runner().invoke(args=["audit", "verify"])


def _sql(statement: str, **params) -> None:
    db.session.execute(text(statement), params)
    db.session.commit()


def test_intact_log_passes(app, chain):
    result = _verify(app)
    assert result.exit_code == 0, result.output
    assert "audit log intact" in result.stdout
    assert result.stderr == ""


def test_empty_log_passes(app):
    result = _verify(app)
    assert result.exit_code == 0
    assert "audit log intact" in result.stdout


def test_changed_details_name_that_record(app, chain):
    _sql("UPDATE audit_log SET details = :d WHERE id = :id", d='{"step": 99}', id=chain[2])
    result = _verify(app)
    assert result.exit_code == 1
    assert f"record {chain[2]}: its contents were changed" in result.stderr
    assert "audit log intact" not in result.output
    for other in (chain[0], chain[1], chain[3], chain[4]):
        assert f"record {other}:" not in result.stderr


@pytest.mark.parametrize(("column", "value"), [
    ("actor", "someone-else@test.example"), ("outcome", "failure"), ("target", "thing:77"),
    ("action", "test.other"), ("origin", "10.0.0.1"),
])
def test_any_changed_column_is_detected(app, chain, column, value):
    _sql(f"UPDATE audit_log SET {column} = :v WHERE id = :id", v=value, id=chain[1])
    result = _verify(app)
    assert result.exit_code == 1
    assert f"record {chain[1]}: its contents were changed" in result.stderr


def test_changed_time_is_detected(app, chain):
    record = db.session.get(AuditRecord, chain[3])
    record.occurred_at = record.occurred_at - timedelta(days=1)
    db.session.commit()
    result = _verify(app)
    assert result.exit_code == 1
    assert f"record {chain[3]}:" in result.stderr


def test_rewritten_record_with_a_fresh_hash_breaks_the_next_link(app, chain):
    """An editor who also recomputes the edited record's hash is caught by the record after it."""
    record = db.session.get(AuditRecord, chain[2])
    record.details = '{"step": 99}'
    record.hash = audit._digest(record.prev_hash, record)
    db.session.commit()
    result = _verify(app)
    assert result.exit_code == 1
    assert f"record {chain[3]}: does not follow the previous record" in result.stderr
    assert f"record {chain[2]}:" not in result.stderr


def test_deleted_middle_record_names_the_following_record(app, chain):
    _sql("DELETE FROM audit_log WHERE id = :id", id=chain[2])
    result = _verify(app)
    assert result.exit_code == 1
    assert f"record {chain[3]}: does not follow the previous record" in result.stderr
    assert f"record {chain[4]}:" not in result.stderr


def test_deleted_first_record_is_detected(app, chain):
    _sql("DELETE FROM audit_log WHERE id = :id", id=chain[0])
    result = _verify(app)
    assert result.exit_code == 1
    assert f"record {chain[1]}: does not follow" in result.stderr


def _forge(prev_hash: str, hash_value: str, **fields) -> int:
    # Dressed as a signed record (key id and place), as a forger copying its neighbours would.
    last = db.session.execute(select(AuditRecord).order_by(AuditRecord.id.desc())).scalar()
    fields = {"key_id": last.key_id, "position": last.position + 1, **fields}
    forged = AuditRecord(occurred_at=now(), actor_id=None, actor="admin@test.example",
                         action="payout.approved", outcome="success", origin="127.0.0.1",
                         target="payout:1", details='{"amount": 100000}', prev_hash=prev_hash,
                         hash=hash_value, **fields)
    db.session.add(forged)
    db.session.commit()
    return forged.id


def test_forged_row_with_a_made_up_hash_is_detected(app, chain):
    last = db.session.get(AuditRecord, chain[-1])
    forged_id = _forge(last.hash, "f" * 64)
    result = _verify(app)
    assert result.exit_code == 1
    assert f"record {forged_id}: its contents were changed" in result.stderr


def test_forged_row_that_does_not_link_is_detected(app, chain):
    forged_id = _forge(audit.GENESIS, "e" * 64)
    result = _verify(app)
    assert result.exit_code == 1
    assert f"record {forged_id}: does not follow the previous record" in result.stderr


def test_forged_row_slipped_between_two_records_is_detected(app, chain):
    """A forger who hashes a row correctly after record 2 (even one holding the audit key)
    still breaks the next genuine link."""
    columns = ("occurred_at", "actor_id", "actor", "action", "outcome", "origin", "target",
               "details", "prev_hash", "hash", "key_id", "position")
    genuine = [{c: getattr(db.session.get(AuditRecord, i), c) for c in columns}
               for i in chain[2:]]
    _sql("DELETE FROM audit_log WHERE id > :id", id=chain[1])
    base = db.session.get(AuditRecord, chain[1])
    forged = AuditRecord(occurred_at=now(), actor="admin@test.example", action="payout.approved",
                         outcome="success", origin="127.0.0.1", target="payout:1",
                         details="{}", prev_hash=base.hash, key_id=base.key_id,
                         position=base.position + 1)
    forged.hash = audit._digest(base.hash, forged)
    db.session.add(forged)
    db.session.flush()
    restored = [AuditRecord(**row) for row in genuine]  # the real records, unchanged, after it
    db.session.add_all(restored)
    db.session.commit()
    result = _verify(app)
    assert result.exit_code == 1
    assert f"record {restored[0].id}: does not follow the previous record" in result.stderr
    assert f"record {forged.id}:" not in result.stderr


def test_every_problem_is_listed(app, chain):
    _sql("UPDATE audit_log SET details = '{}' WHERE id = :id", id=chain[0])
    _sql("UPDATE audit_log SET details = '{}' WHERE id = :id", id=chain[4])
    result = _verify(app)
    assert result.exit_code == 1
    assert f"record {chain[0]}:" in result.stderr and f"record {chain[4]}:" in result.stderr
