"""Evidence files on dispute cases: checked by their own bytes, stored outside static/.

Nothing the client says about a file is trusted. Its type is read from its first bytes (a PDF,
PNG or JPEG signature, or plain UTF-8 text), never from the Content-Type or the extension; its
name is only shown (cleaned, escaped by the templates) and used as the download name with the
detected type's extension; the bytes live under EVIDENCE_DIR with a random name.

A file is written inside its case's transaction and removed again if that transaction does not
commit (`kept_if_committed`), so an upload leaves both a row and a file, or neither. Only a
crash between the write and the commit can leave a file without a row; `sweep_orphans` (a
periodic job) removes such files once they are older than any upload's transaction.
"""
from __future__ import annotations

import hashlib
import os
import re
import secrets
import stat
import unicodedata
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from app.clock import now
from app.database import locked, unit_of_work
from app.domain.dispute_states import CaseKind
from app.extensions import db
from app.models import Order, User
from app.models.disputes import CaseEvent, DisputeCase, EvidenceFile
from app.models.users import STAFF_ROLES
from app.services import audit
from app.services.audit import Actor
from app.services.disputes import case_log
from app.services.errors import NotFound, ServiceError

# Detected type → (extensions a download may keep, the one added otherwise).
TYPES = {
    "application/pdf": ((".pdf",), ".pdf"),
    "image/png": ((".png",), ".png"),
    "image/jpeg": ((".jpg", ".jpeg"), ".jpg"),
    "text/plain": ((".txt", ".log", ".csv"), ".txt"),
}
SIGNATURES = ((b"%PDF-", "application/pdf"), (b"\x89PNG\r\n\x1a\n", "image/png"),
              (b"\xff\xd8\xff", "image/jpeg"))
NAME_LIMIT = 120
# Control characters other than tab, newline, form feed and carriage return: not plain text.
_BINARY_TEXT = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
# The names StagedFile gives stored files (secrets.token_hex(16)); the sweep touches no other.
STORED_NAME = re.compile(r"[0-9a-f]{32}")
SWEEPER = Actor("system:evidence-sweep", "worker")


class FileTooLarge(ServiceError):
    """One file is over the size limit."""

    status = 413


@dataclass
class StagedFile:
    """An accepted upload, held in memory until its case's transaction writes it."""

    display_name: str
    content_type: str
    data: bytes
    sha256: str
    stored_name: str = field(default_factory=lambda: secrets.token_hex(16))
    written: Path | None = None

    @property
    def size(self) -> int:
        """Bytes in the file."""
        return len(self.data)

    def discard(self) -> None:
        """Remove the stored copy, if one was written (its transaction did not commit)."""
        if self.written is not None:
            self.written.unlink(missing_ok=True)
            self.written = None


def max_bytes() -> int:
    """Largest accepted file."""
    return int(current_app.config["EVIDENCE_MAX_BYTES"])


def max_files() -> int:
    """Most files accepted with one message."""
    return int(current_app.config["EVIDENCE_MAX_FILES"])


def request_limit() -> int:
    """Largest request body an upload form may send: its files plus room for the fields."""
    return max_files() * max_bytes() + 256 * 1024


def limits_text() -> str:
    """The limits as people read them."""
    return (f"PDF, PNG, JPEG or plain text, up to {max_files()} files of "
            f"{max_bytes() / (1024 * 1024):g} MB each")


def storage_dir() -> Path:
    """Where the bytes live (outside static/, never served by path)."""
    path = Path(current_app.config["EVIDENCE_DIR"])
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def detect_type(data: bytes) -> str | None:
    """The content type the bytes themselves show, or None when not an accepted kind."""
    for signature, content_type in SIGNATURES:
        if data.startswith(signature):
            return content_type
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return None if _BINARY_TEXT.search(text) else "text/plain"


def clean_name(raw: str | None, content_type: str) -> str:
    """A display name: no folders, no control or format characters, the detected type's
    extension (so a download named .html can never hold our PDF), at most NAME_LIMIT long."""
    name = _plain_name(raw) or "evidence"
    allowed, default = TYPES[content_type]
    stem, ext = os.path.splitext(name)
    if ext.lower() not in allowed:
        stem, ext = name, default
    return stem[:NAME_LIMIT - len(ext)] + ext


def _plain_name(raw: str | None) -> str:
    name = re.split(r"[\\/]", raw or "")[-1]
    name = "".join(ch for ch in unicodedata.normalize("NFC", name)
                   if unicodedata.category(ch)[0] not in "CZ" or ch == " ")
    return " ".join(name.split()).strip(" .")[:NAME_LIMIT]


def stage(upload) -> StagedFile:
    """Check one uploaded file (werkzeug FileStorage); ServiceError saying what is wrong."""
    limit = max_bytes()
    data = upload.stream.read(limit + 1)
    shown = _plain_name(upload.filename) or "the file"
    if len(data) > limit:
        raise FileTooLarge(f"“{shown}” is larger than {limit / (1024 * 1024):g} MB.")
    if not data:
        raise ServiceError(f"“{shown}” is empty.")
    content_type = detect_type(data)
    if content_type is None:
        raise ServiceError(f"“{shown}” is not a PDF, PNG, JPEG or plain-text file.")
    return StagedFile(clean_name(upload.filename, content_type), content_type, data,
                      hashlib.sha256(data).hexdigest())


def stage_all(uploads) -> list[StagedFile]:
    """Check every chosen file of a form (empty file inputs are skipped)."""
    chosen = [u for u in (uploads or []) if u is not None and (u.filename or "").strip()]
    if len(chosen) > max_files():
        raise ServiceError(f"Attach at most {max_files()} files to one message.")
    return [stage(u) for u in chosen]


@contextmanager
def kept_if_committed(staged: list[StagedFile]):
    """Wrap a unit of work that writes staged files: on any error they are removed again."""
    try:
        yield
    except BaseException:
        for item in staged:
            item.discard()
        raise


def attach(case: DisputeCase, staged: StagedFile, uploader_id: int, role: str,
           event: CaseEvent | None) -> EvidenceFile:
    """Write one staged file and its row, in the caller's transaction (see kept_if_committed)."""
    path = storage_dir() / staged.stored_name
    # "x": never overwrite; the random name makes a clash practically impossible anyway.
    with open(path, "xb") as out:
        staged.written = path
        out.write(staged.data)
    path.chmod(0o600)
    row = EvidenceFile(case_id=case.id, event_id=event.id if event else None,
                       uploaded_by=uploader_id, uploader_role=role,
                       display_name=staged.display_name, stored_name=staged.stored_name,
                       content_type=staged.content_type, size=staged.size, sha256=staged.sha256)
    db.session.add(row)
    db.session.flush()
    return row


def save(case_id: int, uploader, role: str, upload, actor: Actor | None = None) -> EvidenceFile:
    """Add one file to a case on its own (a timeline "file" event); uploader: user or id.

    The role on the timeline is the uploader's own on this case (staff: "support"), whatever
    `role` says.
    """
    uploader_id = getattr(uploader, "id", uploader)
    staged = stage(upload)
    with kept_if_committed([staged]), unit_of_work():
        case = locked(DisputeCase, case_id)
        user = db.session.get(User, uploader_id)
        if case is None or user is None or not may_see(user, case):
            raise NotFound("No such case.")
        role = ("support" if user.has_role(*STAFF_ROLES) else
                "buyer" if user.id == case.buyer_id else "seller")
        event = case_log.log(case, "file", role, staged.display_name, actor_id=uploader_id)
        row = attach(case, staged, uploader_id, role, event)
        audit.record(actor or Actor(user.email, "unknown", user.id), "case.file_added",
                     f"case:{case.id}", file=row.id, sha256=row.sha256, size=row.size)
    return row


def may_see(user: User, case: DisputeCase) -> bool:
    """The case's buyer, its seller (for a chargeback: a seller on the order) and staff."""
    if user.has_role(*STAFF_ROLES):
        return True
    if user.id == case.buyer_id:
        return True
    if case.seller_id is not None:
        return user.id == case.seller_id
    return (case.kind == CaseKind.CHARGEBACK.value
            and user.id in db.session.get(Order, case.order_id).seller_ids)


def open_for(user: User, file_id: int) -> tuple[Path, EvidenceFile]:
    """The stored path and row of a file this user may download; NotFound otherwise."""
    row = db.session.get(EvidenceFile, file_id)
    if row is None or user is None or not getattr(user, "is_authenticated", True):
        raise NotFound("No such file.")
    case = db.session.get(DisputeCase, row.case_id)
    if not may_see(user, case):
        raise NotFound("No such file.")
    if row.event_id is not None and not user.has_role(*STAFF_ROLES):
        internal = db.session.get(CaseEvent, row.event_id).internal
        if internal:
            raise NotFound("No such file.")
    path = storage_dir() / row.stored_name
    if not path.is_file():
        raise NotFound("No such file.")
    return path, row


def files_by_event(case_id: int) -> dict[int, list[EvidenceFile]]:
    """A case's files grouped by the timeline event they came with."""
    grouped: dict[int, list[EvidenceFile]] = {}
    rows = db.session.execute(select(EvidenceFile).where(EvidenceFile.case_id == case_id)
                              .order_by(EvidenceFile.id)).scalars()
    for row in rows:
        grouped.setdefault(row.event_id or 0, []).append(row)
    return grouped


def sweep_orphans(at: datetime | None = None) -> list[str]:
    """Delete stored files with no EvidenceFile row that are older than the grace period
    (EVIDENCE_ORPHAN_GRACE_SECONDS); returns their names. Safe to run any number of times."""
    cutoff = (at or now()).replace(tzinfo=UTC).timestamp() - int(
        current_app.config["EVIDENCE_ORPHAN_GRACE_SECONDS"])
    folder = storage_dir()
    # Regular files only, by lstat: a symlink or folder is never followed or removed. A file
    # younger than the grace period may belong to an upload whose transaction is still open.
    candidates = {}
    with os.scandir(folder) as entries:
        for entry in entries:
            if not STORED_NAME.fullmatch(entry.name):
                continue
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(info.st_mode) and info.st_mtime <= cutoff:
                candidates[entry.name] = info.st_size
    if not candidates:
        return []
    known = set(db.session.execute(select(EvidenceFile.stored_name).where(
        EvidenceFile.stored_name.in_(candidates))).scalars())
    removed = []
    for name in sorted(set(candidates) - known):
        try:
            (folder / name).unlink()
        except FileNotFoundError:  # another sweep got there first
            continue
        removed.append(name)
        current_app.logger.warning("removed orphan evidence file %s (%s bytes, no row)",
                                   name, candidates[name])
    if removed:
        with unit_of_work():
            for name in removed:
                audit.record(SWEEPER, "evidence.orphan_removed", f"evidence:{name}",
                             size=candidates[name])
    return removed
