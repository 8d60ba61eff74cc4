"""The audit log's key ring and its anchor outside the database.

Keyed: each record's hash is an HMAC-SHA256 under AUDIT_KEY, a secret kept in the environment
(or the instance folder's secrets.json in development), never in the database; the record names
the key id that signed it. Rotation: make the new secret AUDIT_KEY and move the old one to
AUDIT_RETIRED_KEYS (comma-separated); records keep verifying under the key that signed them.

Anchored: after every commit that appended records, a checkpoint line — the chain's length, its
newest record's id and hash, signed with the current key — is appended to AUDIT_ANCHOR_FILE
(instance folder, append-only) and logged. Someone who can rewrite the database but not that file
or the key cannot hide removing the newest records (the checkpoint names a record that is gone)
nor recompute the chain (HMACs fail without the key; with it, the checkpoints' hashes differ).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from flask import current_app

log = logging.getLogger("holdfast.audit")


def key_id(secret: str) -> str:
    """A short public name for a key (never reveals it)."""
    return hashlib.sha256(b"holdfast-audit-key-id:" + secret.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class KeyRing:
    """The current key (signs new records and checkpoints) and the retired ones (verify)."""

    current_id: str
    keys: dict[str, bytes]

    @classmethod
    def from_config(cls, config) -> KeyRing:
        current = config.get("AUDIT_KEY")
        if not current:
            raise RuntimeError("AUDIT_KEY is not set: the audit log cannot be signed")
        retired = [s.strip() for s in (config.get("AUDIT_RETIRED_KEYS") or "").split(",")]
        keys = {key_id(s): s.encode() for s in [current, *retired] if s}
        return cls(key_id(current), keys)

    def sign(self, body: bytes, kid: str | None = None) -> str:
        """HMAC-SHA256 of body under the named key (the current one by default)."""
        return hmac.new(self.keys[kid or self.current_id], body, hashlib.sha256).hexdigest()

    def verifies(self, body: bytes, kid: str, mac: str) -> bool:
        """True when mac is body's HMAC under key kid (False for an unknown key)."""
        return kid in self.keys and hmac.compare_digest(self.sign(body, kid), mac)


def ring() -> KeyRing:
    """The app's audit key ring."""
    return KeyRing.from_config(current_app.config)


@dataclass(frozen=True)
class Checkpoint:
    """The chain's length and newest record at one moment, as written outside the database."""

    count: int
    last_id: int
    hash: str
    key_id: str
    signature: str

    def body(self) -> bytes:
        return f"{self.count}:{self.last_id}:{self.hash}".encode()


def anchor_path() -> Path:
    return Path(current_app.config["AUDIT_ANCHOR_FILE"])


def write_checkpoint(count: int, last_id: int, head_hash: str) -> None:
    """Append one signed checkpoint line to the anchor file and log it."""
    keys = ring()
    mark = Checkpoint(count, last_id, head_hash, keys.current_id, "")
    line = json.dumps({"count": count, "last_id": last_id, "hash": head_hash,
                       "key_id": keys.current_id, "sig": keys.sign(mark.body())},
                      separators=(",", ":")) + "\n"
    path = anchor_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    # One write() on an O_APPEND descriptor: concurrent processes never interleave a line.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)
    log.info("audit checkpoint count=%d last_id=%d hash=%s", count, last_id, head_hash)


def read_checkpoints() -> tuple[list[Checkpoint], list[str]]:
    """The anchor file's checkpoints whose signature verifies; and a problem per bad line."""
    path = anchor_path()
    if not path.exists():
        return [], []
    keys, found, problems = ring(), [], []
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        try:
            item = json.loads(raw)
            mark = Checkpoint(int(item["count"]), int(item["last_id"]), str(item["hash"]),
                              str(item["key_id"]), str(item["sig"]))
        except (ValueError, KeyError, TypeError):
            problems.append(f"anchor line {number}: unreadable")
            continue
        if not keys.verifies(mark.body(), mark.key_id, mark.signature):
            problems.append(f"anchor line {number}: its signature does not verify "
                            f"(key {mark.key_id})")
            continue
        found.append(mark)
    return found, problems
