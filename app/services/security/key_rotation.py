"""Key rotation for every sealed table: re-wrap records under the current key-encrypting key.

Procedure (docs/vault.md): deploy ENCRYPTION_KEY=<new> with ENCRYPTION_RETIRED_KEYS=<old>, run
`flask keys rotate` (while the app keeps running), check `flask keys status`, then drop the old
secret. Each batch is one short transaction that locks only its rows, so buyers and sellers keep
saving and paying meanwhile; records written by a process still on the old key are picked up by
the next batch or the next run. Only the wrapped data key changes (app.crypto.rewrap), except for
saved cards, whose fingerprint is derived from the key and is recomputed with it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from sqlalchemy import func, inspect, select

from app import crypto
from app.database import unit_of_work
from app.extensions import db
from app.models import BankAccount, LicenceKey, MfaSecret, SavedPaymentMethod
from app.services import audit
from app.services.audit import Actor
from app.services.payments import vault

# Every table whose rows carry SealedColumns; a new sealed table must be added here.
SEALED_MODELS = (BankAccount, SavedPaymentMethod, MfaSecret, LicenceKey)
BATCH_SIZE = 100


@dataclass
class TableRotation:
    """What a rotation did to one table."""

    table: str
    rewrapped: int = 0
    failed: list[str] = field(default_factory=list)  # "<pk>: <why>", the row left as it was


def _pk(model):
    return inspect(model).primary_key[0]


def key_status(keyring: crypto.KeyRing | None = None) -> list[tuple[str, str, int, str]]:
    """(table, key id, records, "current" | "retired" | "unknown") for every sealed table."""
    keyring = keyring or crypto.current_keyring()
    rows = []
    for model in SEALED_MODELS:
        counts = db.session.execute(select(model.key_id, func.count()).group_by(model.key_id)
                                    .order_by(model.key_id)).all()
        for key_id, count in counts:
            rows.append((model.__tablename__, key_id, count, _standing(keyring, key_id)))
    return rows


def _standing(keyring: crypto.KeyRing, key_id: str) -> str:
    if key_id == keyring.current.key_id:
        return "current"
    try:
        keyring.get(key_id)
    except crypto.UnknownKeyError:
        return "unknown"
    return "retired"


def rotate(actor: Actor, batch_size: int = BATCH_SIZE) -> list[TableRotation]:
    """Re-wrap every record not under the current key; safe to re-run (idempotent)."""
    keyring = crypto.current_keyring()
    return [_rotate_table(model, keyring, actor, batch_size) for model in SEALED_MODELS]


def _rotate_table(model, keyring: crypto.KeyRing, actor: Actor,
                  batch_size: int) -> TableRotation:
    report = TableRotation(model.__tablename__)
    skipped: list = []  # rows that cannot be re-wrapped: reported, not retried in this run
    while True:
        with unit_of_work():
            query = (select(model).where(model.key_id != keyring.current.key_id)
                     .order_by(_pk(model)).limit(batch_size).with_for_update())
            if skipped:
                query = query.where(_pk(model).not_in(skipped))
            batch = db.session.execute(query).scalars().all()
            if not batch:
                return report
            done, failed, old_keys = [], [], set()
            for row in batch:
                ident, before = inspect(row).identity[0], row.key_id
                problem = _rewrap(row, keyring)
                if problem:
                    skipped.append(ident)
                    failed.append(ident)
                    report.failed.append(f"{ident}: {problem}")
                else:
                    done.append(ident)
                    old_keys.add(before)
            if done:
                # Re-wrapping opens each data key: the batch is recorded like any decryption.
                audit.record(actor, "vault.rewrapped", model.__tablename__, records=done,
                             from_keys=sorted(old_keys), to_key=keyring.current.key_id)
            if failed:
                audit.record(actor, "vault.rewrapped", model.__tablename__, outcome="failure",
                             records=failed, to_key=keyring.current.key_id)
            report.rewrapped += len(done)


def _rewrap(row, keyring: crypto.KeyRing) -> str | None:
    """Re-wrap one row in place; a description of the problem instead if it cannot be opened."""
    try:
        if isinstance(row, SavedPaymentMethod):
            vault.refingerprint(row, keyring)
        row.sealed = crypto.rewrap(row.sealed, row.associated_data(), keyring)
    except crypto.UnknownKeyError:
        return f"sealed under key {row.key_id!r}, which the configuration no longer holds"
    except InvalidTag:
        return "does not decrypt (changed, or moved from another record)"
    return None
