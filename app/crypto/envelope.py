"""Envelope encryption with AES-256-GCM: a fresh data key per record, wrapped by a config key.

Each record is sealed with its own random 256-bit data key (DEK) under AES-GCM with a random
96-bit nonce; the DEK is then wrapped (AES-GCM again) by a key-encrypting key (KEK). A record
stores four things: the ciphertext, its nonce, the wrapped DEK (wrap nonce + wrapped key + tag)
and the KEK id. Only AEAD is used: any change to a stored byte fails with InvalidTag.

Associated data binds a record to its purpose and owner (b"bank_account:<seller_id>"): the
ciphertext, and the wrapped DEK too, fail to open if moved to another row or purpose. Callers
must pass the same associated data to encrypt, decrypt and rewrap.

Keys come from config, never from the database:
- ENCRYPTION_KEY: the current secret. New records are wrapped under the KEK derived from it.
- ENCRYPTION_RETIRED_KEYS: optional, comma-separated older secrets, accepted for decryption only.
Each KEK is HKDF-SHA256(secret, info="holdfast/kek/v1"); its id is the first 8 hex digits of the
SHA-256 of the derived KEK, so ids need no bookkeeping and a mistyped secret is caught as an
unknown id rather than as a wrong key.

Rotation: make the new secret ENCRYPTION_KEY, move the old one to ENCRYPTION_RETIRED_KEYS, then
rewrap() every record (only the 60-byte wrapped DEK changes, the ciphertext stays); once no record
carries the old id, drop it from ENCRYPTION_RETIRED_KEYS.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field, replace

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

KEY_BYTES = 32
NONCE_BYTES = 12
_KEK_INFO = b"holdfast/kek/v1"
# Domain separation: a wrapped data key can never be opened as a payload, nor the reverse.
_WRAP_AD = b"holdfast/dek-wrap/v1|"
_PAYLOAD_AD = b"holdfast/payload/v1|"


class UnknownKeyError(LookupError):
    """The record was sealed under a KEK that the configuration no longer holds."""


@dataclass(frozen=True)
class Sealed:
    """What a record stores: never the plaintext, never a key in the clear."""

    ciphertext: bytes
    nonce: bytes
    wrapped_key: bytes  # wrap nonce (12) + AES-GCM(KEK, DEK) with its tag (48)
    key_id: str


@dataclass(frozen=True)
class Kek:
    """One key-encrypting key and its id."""

    key_id: str
    key: bytes = field(repr=False)  # keep key material out of logs and tracebacks

    @classmethod
    def derive(cls, secret: str) -> Kek:
        """The KEK for a configured secret (HKDF-SHA256), identified by its fingerprint."""
        if not secret:
            raise ValueError("an encryption secret is empty")
        key = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None,
                   info=_KEK_INFO).derive(secret.encode())
        return cls(hashlib.sha256(key).hexdigest()[:8], key)


class KeyRing:
    """The current KEK (for sealing) and retired ones (for opening only)."""

    def __init__(self, current: Kek, retired: tuple[Kek, ...] = ()):
        self.current = current
        self._by_id = {k.key_id: k for k in retired}
        self._by_id[current.key_id] = current

    def __repr__(self) -> str:
        return f"KeyRing(current={self.current.key_id!r}, known={sorted(self._by_id)!r})"

    @classmethod
    def from_secrets(cls, current: str, retired: tuple[str, ...] = ()) -> KeyRing:
        """A ring from plain secrets; the first argument seals new records."""
        return cls(Kek.derive(current), tuple(Kek.derive(s) for s in retired))

    @classmethod
    def from_config(cls, config) -> KeyRing:
        """A ring from ENCRYPTION_KEY and the optional ENCRYPTION_RETIRED_KEYS."""
        retired = config.get("ENCRYPTION_RETIRED_KEYS") or ""
        return cls.from_secrets(config["ENCRYPTION_KEY"],
                                tuple(s.strip() for s in retired.split(",") if s.strip()))

    def get(self, key_id: str) -> Kek:
        """The KEK with this id; UnknownKeyError when the configuration lacks it."""
        try:
            return self._by_id[key_id]
        except KeyError:
            raise UnknownKeyError(f"no configured encryption key has id {key_id!r}") from None


def current_keyring() -> KeyRing:
    """The key ring of the running app."""
    return KeyRing.from_config(current_app.config)


def _wrap(kek: Kek, dek: bytes, associated_data: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    ad = _WRAP_AD + kek.key_id.encode() + b"|" + associated_data
    return nonce + AESGCM(kek.key).encrypt(nonce, dek, ad)


def _unwrap(kek: Kek, wrapped: bytes, associated_data: bytes) -> bytes:
    ad = _WRAP_AD + kek.key_id.encode() + b"|" + associated_data
    return AESGCM(kek.key).decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], ad)


def encrypt(plaintext: bytes, associated_data: bytes, keyring: KeyRing | None = None) -> Sealed:
    """Seal plaintext under a fresh data key wrapped by the current KEK."""
    keyring = keyring or current_keyring()
    dek = AESGCM.generate_key(bit_length=256)
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = AESGCM(dek).encrypt(nonce, plaintext, _PAYLOAD_AD + associated_data)
    return Sealed(ciphertext, nonce, _wrap(keyring.current, dek, associated_data),
                  keyring.current.key_id)


def decrypt(sealed: Sealed, associated_data: bytes, keyring: KeyRing | None = None) -> bytes:
    """Open a sealed record; InvalidTag if anything was changed or the context differs."""
    keyring = keyring or current_keyring()
    dek = _unwrap(keyring.get(sealed.key_id), sealed.wrapped_key, associated_data)
    return AESGCM(dek).decrypt(sealed.nonce, sealed.ciphertext, _PAYLOAD_AD + associated_data)


def rewrap(sealed: Sealed, associated_data: bytes, keyring: KeyRing | None = None) -> Sealed:
    """The same record with its data key wrapped by the current KEK (ciphertext unchanged)."""
    keyring = keyring or current_keyring()
    dek = _unwrap(keyring.get(sealed.key_id), sealed.wrapped_key, associated_data)
    # Open the payload too, so a rotation never blesses a record that no longer decrypts.
    AESGCM(dek).decrypt(sealed.nonce, sealed.ciphertext, _PAYLOAD_AD + associated_data)
    return replace(sealed, wrapped_key=_wrap(keyring.current, dek, associated_data),
                   key_id=keyring.current.key_id)
