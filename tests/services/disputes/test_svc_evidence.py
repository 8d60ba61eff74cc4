"""Evidence files: type from the bytes, cleaned names, limits, storage, and who may read them."""
from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from app.database import unit_of_work
from app.extensions import db
from app.models import DisputeCase, EvidenceFile, User
from app.services import notifications
from app.services.audit import Actor
from app.services.disputes import case_log, claims, evidence, queries
from app.services.errors import Conflict, ServiceError
from tests.blueprints.money_steps import holds, paid_order

BUYER = Actor("buyer@test.example", "127.0.0.1")
SELLER = Actor("seller@test.example", "127.0.0.1")
PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(20)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(20)


def upload(data: bytes, name: str = "proof.pdf", content_type: str = "application/pdf"):
    """A file as the browser sends it (name and type are the client's claims)."""
    return FileStorage(io.BytesIO(data), filename=name, content_type=content_type)


def stored() -> list[str]:
    """Names of the files in the evidence folder."""
    return sorted(p.name for p in evidence.storage_dir().iterdir())


@pytest.fixture
def order(app, people, stack, psp) -> int:
    """A captured order: 2 mugs (seller) and a candle (other seller)."""
    return paid_order(app, people, stack, psp)


@pytest.fixture
def limits(app, monkeypatch):
    """Small limits, so oversize files stay small."""
    monkeypatch.setitem(app.config, "EVIDENCE_MAX_BYTES", 1000)
    monkeypatch.setitem(app.config, "EVIDENCE_MAX_FILES", 2)


def _claim(people, order, files=(), title="Mug") -> DisputeCase:
    line_id = holds(order)[title].order_line_id
    return claims.open_claim(people["buyer"], line_id, "not_as_described", "See photos.",
                             list(files), BUYER)


# --- what a file is -------------------------------------------------------------------------

@pytest.mark.parametrize(("data", "expected"), [
    (PDF, "application/pdf"), (PNG, "image/png"), (JPEG, "image/jpeg"),
    ("Tracking: DE123 — delivered\r\n\tsigned".encode(), "text/plain"),
    (b"<html><script>alert(1)</script>", "text/plain"),  # shown only as a text download
    (b"MZ\x90\x00\x03\x00\x00\x00", None),               # a Windows program
    (b"PK\x03\x04\x14\x00", None),                       # a zip (also docx, jar…)
    (b"GIF89a\x01\x00", None),
    (b"\xfe\xff\x00t\x00e\x00x\x00t", None),              # not UTF-8
    (b"text with a NUL\x00", None),
])
def test_the_type_comes_from_the_bytes(data, expected):
    assert evidence.detect_type(data) == expected


@pytest.mark.parametrize(("raw", "content_type", "expected"), [
    ("proof.pdf", "application/pdf", "proof.pdf"),
    ("../../etc/passwd", "text/plain", "passwd.txt"),
    ("C:\\Users\\me\\photo.JPEG", "image/jpeg", "photo.JPEG"),
    ("invoice.html", "application/pdf", "invoice.html.pdf"),
    ("evil\u202egnp.exe", "image/png", "evilgnp.exe.png"),   # right-to-left override removed
    ("a\x00b\nc\td.txt", "text/plain", "abcd.txt"),
    ("   ", "image/png", "evidence.png"),
    ("..", "application/pdf", "evidence.pdf"),
    ("x" * 300 + ".pdf", "application/pdf", "x" * 116 + ".pdf"),
])
def test_names_are_cleaned_and_end_in_the_real_type(raw, content_type, expected):
    cleaned = evidence.clean_name(raw, content_type)
    assert cleaned == expected and len(cleaned) <= 120


def test_the_clients_content_type_and_extension_are_ignored(app):
    staged = evidence.stage(upload(PNG, "scan.pdf", "application/pdf"))
    assert (staged.content_type, staged.display_name) == ("image/png", "scan.pdf.png")
    assert staged.sha256 == hashlib.sha256(PNG).hexdigest() and staged.size == len(PNG)


def test_limits_and_wrong_types_say_what_is_wrong(app, limits):
    with pytest.raises(evidence.FileTooLarge, match="“big.pdf” is larger than") as big:
        evidence.stage(upload(PDF + bytes(1000), "big.pdf"))
    assert big.value.status == 413
    evidence.stage(upload(PDF.ljust(1000, b" ")))  # exactly the limit is fine
    with pytest.raises(ServiceError, match="“tool.exe” is not a PDF, PNG, JPEG"):
        evidence.stage(upload(b"MZ\x90\x00", "tool.exe", "image/png"))
    with pytest.raises(ServiceError, match="is empty"):
        evidence.stage(upload(b"", "empty.txt"))
    with pytest.raises(ServiceError, match="at most 2 files"):
        evidence.stage_all([upload(PDF), upload(PNG), upload(JPEG)])
    # A file input left empty sends a part without a name: it is not a file.
    assert evidence.stage_all([upload(b"", ""), None]) == []


# --- storing ------------------------------------------------------------------------------------

def test_files_are_stored_outside_static_under_random_names(app, people, order):
    before = stored()
    case = _claim(people, order, [upload(PDF, "../receipt.pdf"), upload(PNG, "box.png")])
    rows = db.session.execute(select(EvidenceFile).order_by(EvidenceFile.id)).scalars().all()
    assert [r.display_name for r in rows] == ["receipt.pdf", "box.png"]
    assert [r.content_type for r in rows] == ["application/pdf", "image/png"]
    folder = evidence.storage_dir().resolve()
    assert not folder.is_relative_to(Path(app.static_folder).resolve())
    for row, data in zip(rows, (PDF, PNG)):
        assert row.case_id == case.id and row.uploaded_by == people["buyer"]
        assert len(row.stored_name) == 32 and "receipt" not in row.stored_name
        path = folder / row.stored_name
        assert path.read_bytes() == data and row.sha256 == hashlib.sha256(data).hexdigest()
        assert path.stat().st_mode & 0o077 == 0
    assert sorted(set(stored()) - set(before)) == sorted(r.stored_name for r in rows)
    [message] = [e for e in queries.timeline(case.id, viewer_role="buyer") if e.kind == "message"]
    assert {r.event_id for r in rows} == {message.id}


def test_a_refused_claim_leaves_no_file_and_no_row(app, people, order):
    _claim(people, order)
    before = stored()
    with pytest.raises(Conflict):
        _claim(people, order, [upload(PDF)])
    assert stored() == before and db.session.query(EvidenceFile).count() == 0


def test_a_transaction_failing_after_the_write_removes_the_file(app, people, order,
                                                                monkeypatch):
    before = stored()

    def broken(*_args, **_kwargs):
        raise RuntimeError("the outbox is down")

    monkeypatch.setattr(notifications, "notify", broken)
    with pytest.raises(RuntimeError):
        _claim(people, order, [upload(PDF), upload(JPEG, "x.jpg")])
    assert stored() == before
    assert db.session.query(EvidenceFile).count() == 0
    assert db.session.query(DisputeCase).count() == 0


def test_one_bad_file_refuses_the_whole_message(app, people, order):
    case = _claim(people, order)
    before = stored()
    with pytest.raises(ServiceError, match="not a PDF"):
        claims.add_message(people["seller"], "seller", case.id, "Proof attached.",
                           [upload(PDF), upload(b"\x00\x01binary", "data.bin")], SELLER)
    assert stored() == before and db.session.query(EvidenceFile).count() == 0
    assert [e.kind for e in queries.timeline(case.id, viewer_role="seller")] == [
        "status", "message"]


def test_save_adds_one_file_to_a_case(app, people, order):
    case = _claim(people, order)
    row = evidence.save(case.id, people["support"], "support", upload(PDF, "note.pdf"))
    assert row.event_id is not None and row.uploader_role == "support"
    [event] = [e for e in queries.timeline(case.id, viewer_role="buyer") if e.kind == "file"]
    assert event.body == "note.pdf"
    with pytest.raises(ServiceError):
        evidence.save(case.id, people["other_buyer"], "buyer", upload(PDF))


# --- who may read a file ------------------------------------------------------------------------

def _user(people, name) -> User:
    return db.session.get(User, people[name])


def test_only_the_parties_and_staff_open_a_file(app, people, order):
    case = _claim(people, order, [upload(PDF)])
    row = db.session.execute(select(EvidenceFile)).scalar_one()
    for who in ("buyer", "seller", "support", "admin"):
        path, found = evidence.open_for(_user(people, who), row.id)
        assert found.id == row.id and path.read_bytes() == PDF
    for who in ("other_buyer", "other_seller"):
        with pytest.raises(ServiceError) as refused:
            evidence.open_for(_user(people, who), row.id)
        assert refused.value.status == 404
    with pytest.raises(ServiceError):
        evidence.open_for(_user(people, "buyer"), row.id + 1000)
    assert case.id


def test_files_on_internal_notes_are_for_staff_only(app, people, order):
    case = _claim(people, order)
    staged = evidence.stage(upload(PNG, "internal.png"))
    with evidence.kept_if_committed([staged]), unit_of_work():
        locked = db.session.get(DisputeCase, case.id)
        note = case_log.log(locked, "note", "support", "Checked the courier.",
                            actor_id=people["support"], internal=True)
        row = evidence.attach(locked, staged, people["support"], "support", note)
    assert evidence.open_for(_user(people, "support"), row.id)[1].id == row.id
    for who in ("buyer", "seller"):
        with pytest.raises(ServiceError):
            evidence.open_for(_user(people, who), row.id)


def test_a_file_missing_on_disk_is_not_found(app, people, order):
    _claim(people, order, [upload(PDF)])
    row = db.session.execute(select(EvidenceFile)).scalar_one()
    (evidence.storage_dir() / row.stored_name).unlink()
    with pytest.raises(ServiceError):
        evidence.open_for(_user(people, "buyer"), row.id)
