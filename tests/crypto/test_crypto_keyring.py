"""Key-encrypting keys come from config: derived, identified by fingerprint, never printed."""
from __future__ import annotations

import hashlib

import pytest

from app.crypto import KeyRing, current_keyring, decrypt, encrypt
from app.crypto.envelope import Kek


def test_kek_is_derived_and_identified_by_its_fingerprint():
    kek = Kek.derive("a-configured-secret")
    assert len(kek.key) == 32
    assert kek.key != b"a-configured-secret"[:32]
    assert kek.key_id == hashlib.sha256(kek.key).hexdigest()[:8]
    assert Kek.derive("a-configured-secret") == kek            # deterministic
    assert Kek.derive("another-secret").key_id != kek.key_id


def test_key_material_never_appears_in_repr():
    ring = KeyRing.from_secrets("a-configured-secret", ("older-secret",))
    text = repr(ring) + repr(ring.current)
    assert ring.current.key.hex() not in text and str(ring.current.key) not in text
    assert "a-configured-secret" not in text
    assert ring.current.key_id in text


def test_from_config_uses_encryption_key_and_accepts_retired_keys():
    ring = KeyRing.from_config({"ENCRYPTION_KEY": "current-secret",
                                "ENCRYPTION_RETIRED_KEYS": " old-1 , old-2 ,"})
    assert ring.current == Kek.derive("current-secret")
    assert ring.get(Kek.derive("old-2").key_id) == Kek.derive("old-2")
    sealed = encrypt(b"x", b"ad", KeyRing.from_secrets("old-1"))
    assert decrypt(sealed, b"ad", ring) == b"x"


def test_an_empty_secret_is_refused():
    with pytest.raises(ValueError):
        KeyRing.from_config({"ENCRYPTION_KEY": ""})


def test_the_running_app_seals_under_its_encryption_key(app):
    assert current_keyring().current == Kek.derive(app.config["ENCRYPTION_KEY"])
    assert encrypt(b"x", b"ad").key_id == Kek.derive(app.config["ENCRYPTION_KEY"]).key_id


def test_retired_keys_are_read_from_the_environment(monkeypatch):
    from config import load_config

    monkeypatch.setenv("ENCRYPTION_RETIRED_KEYS", "old-1,old-2")
    ring = KeyRing.from_config(load_config("test"))
    assert ring.get(Kek.derive("old-1").key_id) and ring.get(Kek.derive("old-2").key_id)
