"""The audit chain is keyed and anchored: removing the newest records, recomputing the chain
(with or without the key) and forging checkpoints are all named by `flask audit verify`; a
rotated key keeps its records verifiable; records from before keys stay a legacy prefix."""
from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import pytest
from sqlalchemy import select, text

from app.database import is_postgresql, unit_of_work
from app.extensions import db
from app.models import AuditRecord
from app.services import audit, audit_keys
from app.services.audit import Actor

ACTOR = Actor("auditor@test.example", "127.0.0.1")


@pytest.fixture(autouse=True)
def dba_attacker(app):
    """An attacker with full control of the database (the append-only trigger switched off on
    PostgreSQL), but not of the instance folder or the environment."""
    if is_postgresql():
        _sql("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
    yield
    db.session.rollback()
    if is_postgresql():
        _sql("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")


@pytest.fixture
def keys(app):
    """Set AUDIT_KEY / AUDIT_RETIRED_KEYS for one test; restored afterwards."""
    saved = {k: app.config.get(k) for k in ("AUDIT_KEY", "AUDIT_RETIRED_KEYS")}

    def use(current: str, *retired: str) -> None:
        app.config.update(AUDIT_KEY=current, AUDIT_RETIRED_KEYS=",".join(retired))

    yield use
    app.config.update(saved)


def _sql(statement: str, **params) -> None:
    db.session.execute(text(statement), params)
    db.session.commit()


def _write(n: int, start: int = 0) -> list[int]:
    ids = []
    for step in range(start, start + n):
        with unit_of_work():
            ids.append(audit.record(ACTOR, "test.step", f"thing:{step}", step=step).id)
    return ids


def _verify(app):
    db.session.rollback()
    return app.test_cli_runner().invoke(args=["audit", "verify"])


def _anchors(app) -> list[dict]:
    path = Path(app.config["AUDIT_ANCHOR_FILE"])
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_each_commit_writes_a_signed_checkpoint_outside_the_database(app, caplog):
    with caplog.at_level(logging.INFO, logger="holdfast.audit"):
        ids = _write(3)
    marks = _anchors(app)
    last = db.session.get(AuditRecord, ids[-1])
    assert [m["count"] for m in marks] == [1, 2, 3]
    assert marks[-1]["last_id"] == ids[-1] and marks[-1]["hash"] == last.hash
    assert last.key_id == audit_keys.key_id(app.config["AUDIT_KEY"]) and last.position == 3
    assert f"audit checkpoint count=3 last_id={ids[-1]} hash={last.hash}" in caplog.text
    assert app.config["AUDIT_KEY"] not in Path(app.config["AUDIT_ANCHOR_FILE"]).read_text()
    assert _verify(app).exit_code == 0


def test_a_rolled_back_append_writes_no_checkpoint(app):
    _write(1)
    with pytest.raises(RuntimeError), unit_of_work():
        audit.record(ACTOR, "test.step", "thing:x")
        raise RuntimeError("the action failed")
    assert [m["count"] for m in _anchors(app)] == [1]


def test_removing_the_newest_records_is_detected(app):
    ids = _write(4)
    _sql("DELETE FROM audit_log WHERE id >= :id", id=ids[2])  # the chain that is left is intact

    result = _verify(app)
    assert result.exit_code == 1
    assert f"record {ids[3]}, number 4 of the log when it was anchored, is missing" \
        in result.stderr
    assert "the log now has 2 records" in result.stderr


def test_recomputing_the_chain_without_the_key_is_detected(app):
    ids = _write(3)
    # The attacker changes record 2 and recomputes every hash after it, as plain SHA-256 could.
    _sql("UPDATE audit_log SET details = '{\"step\": 99}' WHERE id = :id", id=ids[1])
    prev = db.session.get(AuditRecord, ids[0]).hash
    for record_id in ids[1:]:
        row = db.session.get(AuditRecord, record_id)
        body = audit._body(prev, row) | {"key_id": row.key_id, "position": row.position}
        row.prev_hash, row.hash = prev, hashlib.sha256(audit._canonical(body)).hexdigest()
        prev = row.hash
        db.session.commit()

    result = _verify(app)
    assert result.exit_code == 1
    assert f"record {ids[1]}: its contents were changed" in result.stderr


def test_recomputing_the_chain_with_the_key_is_caught_by_the_checkpoints(app):
    """An insider holding the key rewrites record 2 and re-signs the rest: every link verifies,
    but the anchored hashes no longer match."""
    ids = _write(3)
    _sql("UPDATE audit_log SET details = '{\"step\": 99}' WHERE id = :id", id=ids[1])
    prev = db.session.get(AuditRecord, ids[0]).hash
    for record_id in ids[1:]:
        row = db.session.get(AuditRecord, record_id)
        row.prev_hash = prev
        row.hash = audit._digest(prev, row)
        prev = row.hash
        db.session.commit()

    result = _verify(app)
    assert result.exit_code == 1
    assert "contents were changed" not in result.stderr  # the chain itself is consistent
    assert f"record {ids[1]} differs from its checkpoint" in result.stderr
    assert f"record {ids[2]} differs from its checkpoint" in result.stderr


def test_a_forged_checkpoint_line_is_refused(app):
    _write(2)
    path = Path(app.config["AUDIT_ANCHOR_FILE"])
    with path.open("a") as anchor:
        anchor.write(json.dumps({"count": 1, "last_id": 1, "hash": "0" * 64,
                                 "key_id": "forged", "sig": "00"}) + "\n")
    result = _verify(app)
    assert result.exit_code == 1
    assert "anchor line 3: its signature does not verify" in result.stderr


def test_a_rotated_key_keeps_its_records_verifiable(app, keys):
    old = app.config["AUDIT_KEY"]
    first = _write(2)
    keys("a-new-audit-key-for-the-rotation", old)
    second = _write(2, start=2)

    rows = {r.id: r for r in db.session.execute(select(AuditRecord)).scalars()}
    assert {rows[i].key_id for i in first} == {audit_keys.key_id(old)}
    assert {rows[i].key_id for i in second} == {audit_keys.key_id("a-new-audit-key-for-the-rotation")}
    assert rows[second[0]].prev_hash == rows[first[-1]].hash  # one chain across the rotation
    assert _verify(app).exit_code == 0

    keys("a-new-audit-key-for-the-rotation")  # the old key dropped from the ring too early
    result = _verify(app)
    assert result.exit_code == 1
    assert f"record {first[0]}: signed with key {audit_keys.key_id(old)}, which is neither" \
        in result.stderr


def test_legacy_records_stay_verifiable_and_the_first_keyed_one_seals_them(app):
    """Records from before migration 0017 (no key id, plain SHA-256) verify as a prefix."""
    prev = audit.GENESIS
    for step in range(2):
        row = AuditRecord(occurred_at=audit.now(), actor="legacy@test.example", action="old.step",
                          outcome="success", origin="127.0.0.1", target=f"thing:{step}",
                          details="{}", prev_hash=prev)
        row.hash = audit._digest(prev, row)
        db.session.add(row)
        db.session.commit()
        prev = row.hash
    keyed = _write(1)
    row = db.session.get(AuditRecord, keyed[0])
    assert row.prev_hash == prev and row.position == 3
    assert _verify(app).exit_code == 0

    # An unsigned record appended after signed ones is refused, however well it hashes.
    late = AuditRecord(occurred_at=audit.now(), actor="x@test.example", action="payout.approved",
                       outcome="success", origin="127.0.0.1", target="payout:1", details="{}",
                       prev_hash=row.hash)
    late.hash = audit._digest(row.hash, late)
    db.session.add(late)
    db.session.commit()
    result = _verify(app)
    assert result.exit_code == 1
    assert f"record {late.id}: unsigned record after signed ones" in result.stderr


def test_records_of_one_transaction_chain_without_rereading_the_head(app):
    """A transaction that appended the head knows it (it holds the chain's lock): the next
    record in it skips the head read; a savepoint's record is never trusted as the head."""
    from sqlalchemy import event

    with unit_of_work():
        audit.record(ACTOR, "test.first", "x:1")
    reads = []

    def count(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("SELECT") and "audit_log" in statement:
            reads.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        with unit_of_work():
            audit.record(ACTOR, "test.second", "x:2")
            audit.record(ACTOR, "test.third", "x:3")
            audit.record(ACTOR, "test.fourth", "x:4")
        assert len(reads) == 1
        reads.clear()
        with unit_of_work():
            audit.record(ACTOR, "test.fifth", "x:5")
            try:
                with db.session.begin_nested():
                    audit.record(ACTOR, "test.undone", "x:6")
                    raise RuntimeError("savepoint rolled back")
            except RuntimeError:
                pass
            audit.record(ACTOR, "test.sixth", "x:7")
        assert len(reads) == 3  # the first, the savepoint's, and the one after it
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert audit.verify_chain() == []
    actions = db.session.scalars(select(AuditRecord.action).order_by(AuditRecord.id)).all()
    assert actions[-6:] == ["test.first", "test.second", "test.third", "test.fourth",
                            "test.fifth", "test.sixth"]
