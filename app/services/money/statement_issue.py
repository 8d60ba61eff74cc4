"""Issue a seller statement once: build it from the ledger, render HTML, CSV and PDF, record
their SHA-256 in the audit chain, sign each file's manifest (which names that audit record)
with the platform's Ed25519 key, and keep the exact bytes. Later downloads serve those bytes;
`verify_with_chain` is what `flask statements verify` runs."""
from __future__ import annotations

import hashlib
import json

from sqlalchemy import select

from app.clock import now
from app.database import unit_of_work
from app.extensions import db
from app.models import AuditRecord
from app.models.statements import SellerStatement, StatementDocument
from app.services import audit, statement_keys
from app.services.audit import Actor
from app.services.errors import NotFound
from app.services.money import statement_files, statements
from app.statement_verify import SIGNATURE_FORMAT, Verdict, load_public_keys, verify


def issue(seller_id: int, period: str, currency: str, actor: Actor) -> int:
    """The statement's id, issuing it now if it was not yet (idempotent per period)."""
    currency = currency.upper()
    with unit_of_work():
        existing = _existing(seller_id, period, currency)
        if existing is not None:
            return existing.id
        statement = statements.build(seller_id, period, currency)
        issued_at = now().replace(microsecond=0)
        files = {fmt: render(statement, issued_at)
                 for fmt, render in statement_files.RENDERERS.items()}
        row = SellerStatement(seller_id=seller_id, period=period, currency=currency,
                              payout_id=statement.payout_id, opening=statement.opening,
                              closing=statement.closing,
                              paid_out=statement.total("paid_out"),
                              key_id=statement_keys.current_key_id(), issued_at=issued_at)
        db.session.add(row)
        db.session.flush()
        hashes = {fmt: hashlib.sha256(body).hexdigest() for fmt, body in files.items()}
        record = audit.record(actor, "statement.issued", f"statement:{row.id}",
                              seller_id=seller_id, period=period, currency=currency,
                              key_id=row.key_id, sha256=hashes)
        row.audit_id = record.id
        for fmt, body in files.items():
            name = statement_files.filename(statement, fmt)
            manifest = statement_keys.sign({
                "format": SIGNATURE_FORMAT, "statement": f"{period}:{currency}",
                "seller": statement.seller_email, "file": name, "sha256": hashes[fmt],
                "algorithm": "Ed25519", "issued_at": issued_at.isoformat(),
                "audit": {"record_id": record.id, "position": record.position,
                          "hash": record.hash}})
            db.session.add(StatementDocument(statement_id=row.id, format=fmt, filename=name,
                                             content=body, sha256=hashes[fmt],
                                             signature=json.dumps(manifest, indent=2)))
        return row.id


def _existing(seller_id: int, period: str, currency: str) -> SellerStatement | None:
    return db.session.execute(select(SellerStatement).where(
        SellerStatement.seller_id == seller_id, SellerStatement.period == period,
        SellerStatement.currency == currency)).scalar_one_or_none()


def document(seller_id: int, statement_id: int, fmt: str) -> StatementDocument:
    """The seller's own document in one format, or NotFound (never another seller's)."""
    row = db.session.get(SellerStatement, statement_id)
    if row is None or row.seller_id != seller_id or fmt not in statement_files.FORMATS:
        raise NotFound("No such statement.")
    return next(d for d in row.documents if d.format == fmt)


def verify_with_chain(content: bytes, manifest: dict) -> tuple[Verdict, list[str]]:
    """The offline verdict (signature and hash, with every published key), then the audit
    chain: the named record exists with that hash, logged this file's SHA-256, and the chain
    is intact. Returns (verdict, chain problems)."""
    verdict = verify(content, manifest, load_public_keys(statement_keys.public_pem()))
    pointer = manifest.get("audit", {})
    record = db.session.get(AuditRecord, pointer.get("record_id") or 0)
    problems = []
    if record is None or record.action != "statement.issued":
        problems.append(f"audit record #{pointer.get('record_id')} is not a statement record")
    else:
        if record.hash != pointer.get("hash"):
            problems.append(f"audit record #{record.id} has hash {record.hash}, the signature "
                            f"names {pointer.get('hash')}")
        if manifest.get("sha256") not in json.loads(record.details).get("sha256", {}).values():
            problems.append(f"audit record #{record.id} did not log this file's SHA-256")
        problems += audit.verify_chain()
    return verdict, problems


def public_key_document() -> dict:
    """What /.well-known/holdfast-statement-keys.json serves."""
    return {"issuer": "Holdfast", "use": "seller statement signatures",
            "format": SIGNATURE_FORMAT, "keys": statement_keys.published_keys()}


def statement_for(seller_id: int, statement_id: int) -> SellerStatement:
    """The seller's own statement row, or NotFound."""
    row = db.session.get(SellerStatement, statement_id)
    if row is None or row.seller_id != seller_id:
        raise NotFound("No such statement.")
    return row
