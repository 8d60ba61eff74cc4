"""The orphan sweep: evidence files a crash left without a row go, everything else stays."""
from __future__ import annotations

import io
import logging
import os
import secrets
import time
from datetime import timedelta

import pytest
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from app.clock import now
from app.extensions import db, queues
from app.jobs.scheduling import PERIODIC, run_periodic
from app.models import AuditRecord, EvidenceFile
from app.services.audit import Actor
from app.services.disputes import claims, evidence
from tests.blueprints.money_steps import holds, paid_order

BUYER = Actor("buyer@test.example", "127.0.0.1")
PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF\n"
HOUR = 3600


@pytest.fixture
def folder(app, monkeypatch, tmp_path):
    """An evidence folder of this test's own, with a one-hour grace period."""
    path = tmp_path / "evidence"
    monkeypatch.setitem(app.config, "EVIDENCE_DIR", str(path))
    monkeypatch.setitem(app.config, "EVIDENCE_ORPHAN_GRACE_SECONDS", HOUR)
    return evidence.storage_dir()


def put(folder, name=None, age=2 * HOUR, data=b"orphan"):
    """A file in the folder, last modified `age` seconds ago; returns its path."""
    path = folder / (name or secrets.token_hex(16))
    path.write_bytes(data)
    past = time.time() - age
    os.utime(path, (past, past), follow_symlinks=False)
    return path


def removals() -> list[AuditRecord]:
    """Audit records of removed orphans."""
    return list(db.session.execute(select(AuditRecord).where(
        AuditRecord.action == "evidence.orphan_removed")).scalars())


def test_an_old_orphan_is_removed_audited_and_logged(app, folder, caplog):
    orphan = put(folder)

    with caplog.at_level(logging.WARNING):
        assert evidence.sweep_orphans() == [orphan.name]

    assert not orphan.exists()
    [record] = removals()
    assert record.target == f"evidence:{orphan.name}" and record.actor == "system:evidence-sweep"
    assert orphan.name in caplog.text


def test_a_young_orphan_stays_it_may_be_mid_transaction(app, folder):
    young = put(folder, age=HOUR - 60)
    old = put(folder, age=HOUR + 60)

    assert evidence.sweep_orphans() == [old.name]
    assert young.exists() and not old.exists()


def test_the_grace_period_is_measured_from_the_given_time(app, folder):
    young = put(folder, age=60)
    later = now() + timedelta(seconds=HOUR)

    assert evidence.sweep_orphans() == []
    assert evidence.sweep_orphans(at=later) == [young.name]


def test_a_file_with_a_row_stays(app, people, stack, psp, folder):
    order = paid_order(app, people, stack, psp)
    upload = FileStorage(io.BytesIO(PDF), filename="proof.pdf", content_type="application/pdf")
    claims.open_claim(people["buyer"], holds(order)["Mug"].order_line_id, "not_as_described",
                      "See the file.", [upload], BUYER)
    [row] = db.session.execute(select(EvidenceFile)).scalars()
    kept = folder / row.stored_name
    past = time.time() - 2 * HOUR
    os.utime(kept, (past, past))
    orphan = put(folder)

    assert evidence.sweep_orphans() == [orphan.name]
    assert kept.read_bytes() == PDF


def test_symlinks_folders_and_other_names_stay(app, folder, tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"not ours")
    link = folder / secrets.token_hex(16)
    link.symlink_to(outside)
    past = time.time() - 2 * HOUR
    os.utime(link, (past, past), follow_symlinks=False)
    os.utime(outside, (past, past))
    subfolder = folder / secrets.token_hex(16)
    subfolder.mkdir()
    os.utime(subfolder, (past, past))
    odd = [put(folder, name) for name in ("notes.txt", secrets.token_hex(16).upper(),
                                          secrets.token_hex(16) + ".pdf", secrets.token_hex(8))]

    assert evidence.sweep_orphans() == []
    assert link.is_symlink() and outside.read_bytes() == b"not ours" and subfolder.is_dir()
    assert all(path.exists() for path in odd)
    assert removals() == []


def test_running_twice_is_harmless(app, folder):
    orphan = put(folder)
    young = put(folder, age=60)

    assert evidence.sweep_orphans() == [orphan.name]
    assert evidence.sweep_orphans() == []
    assert young.exists() and len(removals()) == 1


def test_the_sweep_is_periodic_and_reschedules_itself(app, folder):
    assert PERIODIC["evidence"] == ("EVIDENCE_SWEEP_SECONDS", "app.jobs.evidence.sweep_orphans")
    orphan = put(folder)

    assert run_periodic("evidence") == [orphan.name]
    registry = ScheduledJobRegistry(queue=queues.queue)
    assert b"periodic-evidence" in queues.connection.zrange(registry.key, 0, -1)
