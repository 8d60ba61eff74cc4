"""The Ed25519 key that signs seller statements, and the public keys the platform publishes.

The private key is derived from STATEMENT_SIGNING_KEY (a secret like the others: production
requires it, development generates it into the instance folder). Rotating it means setting a
new value and adding the old public key (printed by `flask statements public-key`) to
STATEMENT_RETIRED_PUBLIC_KEYS, so statements it signed keep verifying.
"""
from __future__ import annotations

import base64
import hashlib

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from flask import current_app

from app.statement_verify import canonical, key_id, raw_public_key

_SEED_LABEL = b"holdfast statement signing key\0"


def signing_key() -> Ed25519PrivateKey:
    """The current private key (a hash of the configured secret is its 32-byte seed)."""
    secret = current_app.config["STATEMENT_SIGNING_KEY"].encode()
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(_SEED_LABEL + secret).digest())


def current_key_id() -> str:
    """The id of the key that signs from now on."""
    return key_id(signing_key().public_key())


def published_keys() -> list[dict]:
    """The current public key and every retired one, for /.well-known and the docs."""
    current = signing_key().public_key()
    keys = [(current, "current")]
    for text in current_app.config.get("STATEMENT_RETIRED_PUBLIC_KEYS", "").split(","):
        if text.strip():
            keys.append((Ed25519PublicKey.from_public_bytes(base64.b64decode(text.strip())),
                         "retired"))
    return [{"key_id": key_id(k), "algorithm": "Ed25519", "status": status,
             "public_key": base64.b64encode(raw_public_key(k)).decode(),
             "pem": k.public_bytes(serialization.Encoding.PEM,
                                   serialization.PublicFormat.SubjectPublicKeyInfo).decode()}
            for k, status in keys]


def public_pem() -> str:
    """Every published key as PEM blocks, current first (what the verifier reads)."""
    return "".join(k["pem"] for k in published_keys())


def sign(manifest: dict) -> dict:
    """The manifest with its key id and signature added."""
    key = signing_key()
    signed = {**manifest, "key_id": key_id(key.public_key())}
    signed["signature"] = base64.b64encode(key.sign(canonical(signed))).decode()
    return signed
