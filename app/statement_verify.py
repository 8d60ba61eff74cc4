"""Verify a Holdfast seller statement offline: python app/statement_verify.py FILE SIG KEY.

Standalone on purpose: it needs only Python and the `cryptography` package, never the platform,
so a seller, an accountant or an auditor can check a downloaded statement with the platform's
published public key (docs/statements.md). `flask statements verify` uses it too, and adds
the check of the statement's record in the audit chain.

The signature file (.sig.json) is a manifest: the statement's file name, its SHA-256, the key id
and the audit record that logged it; the Ed25519 signature covers the canonical JSON of the
manifest without its "signature" field, so the file's hash and its place in the audit chain
are both signed.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

SIGNATURE_FORMAT = "holdfast-statement-signature/1"


def canonical(manifest: dict) -> bytes:
    """The bytes the signature covers: the manifest without its signature, sorted, compact."""
    body = {k: v for k, v in manifest.items() if k != "signature"}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def raw_public_key(key: Ed25519PublicKey) -> bytes:
    """The 32 raw bytes of a public key."""
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(key: Ed25519PublicKey) -> str:
    """A short, stable name for a public key: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(raw_public_key(key)).hexdigest()[:16]


def load_public_keys(text: str) -> dict[str, Ed25519PublicKey]:
    """Keys by id from a PEM file, the published JSON key list, or base64 raw keys."""
    keys: list[Ed25519PublicKey] = []
    stripped = text.strip()
    if stripped.startswith("-----BEGIN"):
        for block in stripped.split("-----END PUBLIC KEY-----"):
            if "BEGIN PUBLIC KEY" in block:
                pem = (block.strip() + "\n-----END PUBLIC KEY-----\n").encode()
                keys.append(serialization.load_pem_public_key(pem))
    elif stripped.startswith("{"):
        for entry in json.loads(stripped)["keys"]:
            keys.append(Ed25519PublicKey.from_public_bytes(base64.b64decode(entry["public_key"])))
    else:
        keys += [Ed25519PublicKey.from_public_bytes(base64.b64decode(part))
                 for part in stripped.replace(",", " ").split()]
    return {key_id(k): k for k in keys}


@dataclass(frozen=True)
class Verdict:
    """The outcome: ok, and what was found (or what is wrong)."""

    ok: bool
    problems: list[str]
    manifest: dict


def verify(document: bytes, manifest: dict, keys: dict[str, Ed25519PublicKey]) -> Verdict:
    """Check the document's hash against the manifest and the manifest's signature."""
    problems = []
    if manifest.get("format") != SIGNATURE_FORMAT:
        problems.append(f"not a Holdfast statement signature ({manifest.get('format')!r})")
    digest = hashlib.sha256(document).hexdigest()
    if digest != manifest.get("sha256"):
        problems.append(f"the file's SHA-256 {digest} is not the signed "
                        f"{manifest.get('sha256')}: the file was changed")
    key = keys.get(manifest.get("key_id", ""))
    if key is None:
        problems.append(f"no published public key with id {manifest.get('key_id')!r}")
    else:
        try:
            key.verify(base64.b64decode(manifest.get("signature", "")), canonical(manifest))
        except (InvalidSignature, ValueError):
            problems.append("the signature does not match: the signature file was changed or "
                            "was not made by this key")
    return Verdict(not problems, problems, manifest)


def describe(verdict: Verdict) -> list[str]:
    """Lines for a person: the verdict, the statement and its audit record."""
    m = verdict.manifest
    audit = m.get("audit", {})
    if not verdict.ok:
        return ["NOT VERIFIED"] + [f"  - {p}" for p in verdict.problems]
    return ["VERIFIED: signed by Holdfast",
            f"  statement   {m.get('statement')} ({m.get('file')})",
            f"  sha256      {m.get('sha256')}",
            f"  key id      {m.get('key_id')}",
            f"  audit chain record #{audit.get('record_id')} at position "
            f"{audit.get('position')}, hash {audit.get('hash')}"]


def main(argv: list[str] | None = None) -> int:
    """The command line: exit 0 when verified, 1 when not."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("file", type=Path, help="the downloaded statement (HTML, CSV or PDF)")
    parser.add_argument("signature", type=Path, help="its .sig.json")
    parser.add_argument("public_key", type=Path,
                        help="the platform's public key (PEM, or the published JSON list)")
    args = parser.parse_args(argv)
    verdict = verify(args.file.read_bytes(), json.loads(args.signature.read_text()),
                     load_public_keys(args.public_key.read_text()))
    print("\n".join(describe(verdict)))
    return 0 if verdict.ok else 1


if __name__ == "__main__":
    sys.exit(main())
