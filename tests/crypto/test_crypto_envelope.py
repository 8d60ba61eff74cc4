"""Envelope encryption: round trips, and every kind of tampering or wrong key fails loudly."""
from __future__ import annotations

import pytest
from cryptography.exceptions import InvalidTag

from app.crypto import KeyRing, Sealed, UnknownKeyError, decrypt, encrypt, rewrap
from app.crypto.envelope import Kek

AD = b"bank_account:7"
OLD = KeyRing.from_secrets("old-secret-for-tests-only")
NEW = KeyRing.from_secrets("new-secret-for-tests-only", ("old-secret-for-tests-only",))


def flip(data: bytes, index: int = 0) -> bytes:
    """The same bytes with one bit changed."""
    return data[:index] + bytes([data[index] ^ 1]) + data[index + 1:]


def test_round_trip():
    sealed = encrypt(b'{"iban": "DE89370400440532013000"}', AD, OLD)
    assert decrypt(sealed, AD, OLD) == b'{"iban": "DE89370400440532013000"}'
    assert sealed.key_id == OLD.current.key_id
    assert b"DE89" not in sealed.ciphertext + sealed.wrapped_key
    assert len(sealed.nonce) == 12
    assert len(sealed.wrapped_key) == 12 + 32 + 16


def test_two_encryptions_of_the_same_plaintext_differ():
    first, second = encrypt(b"same", AD, OLD), encrypt(b"same", AD, OLD)
    assert first.ciphertext != second.ciphertext
    assert first.nonce != second.nonce
    assert first.wrapped_key != second.wrapped_key  # a fresh data key each time


@pytest.mark.parametrize("part", ["ciphertext", "nonce", "wrapped_key"])
@pytest.mark.parametrize("index", [0, -1])
def test_any_changed_byte_fails(part, index):
    sealed = encrypt(b"payload", AD, OLD)
    value = getattr(sealed, part)
    tampered = Sealed(**{**sealed.__dict__, part: flip(value, index % len(value))})
    with pytest.raises(InvalidTag):
        decrypt(tampered, AD, OLD)


def test_wrong_associated_data_fails():
    sealed = encrypt(b"payload", AD, OLD)
    with pytest.raises(InvalidTag):
        decrypt(sealed, b"bank_account:8", OLD)


def test_a_wrapped_key_cannot_be_moved_to_another_record():
    mine, theirs = encrypt(b"mine", AD, OLD), encrypt(b"theirs", b"bank_account:8", OLD)
    swapped = Sealed(mine.ciphertext, mine.nonce, theirs.wrapped_key, mine.key_id)
    with pytest.raises(InvalidTag):
        decrypt(swapped, AD, OLD)


def test_wrong_kek_under_the_same_id_fails():
    sealed = encrypt(b"payload", AD, OLD)
    impostor = KeyRing(Kek(OLD.current.key_id, b"\x00" * 32))
    with pytest.raises(InvalidTag):
        decrypt(sealed, AD, impostor)


def test_a_kek_missing_from_the_configuration_is_named():
    sealed = encrypt(b"payload", AD, OLD)
    with pytest.raises(UnknownKeyError, match=sealed.key_id):
        decrypt(sealed, AD, KeyRing.from_secrets("some-other-secret"))


def test_rewrap_moves_to_the_new_kek_and_keeps_the_plaintext():
    sealed = encrypt(b"payload", AD, OLD)
    rewrapped = rewrap(sealed, AD, NEW)
    assert rewrapped.key_id == NEW.current.key_id != sealed.key_id
    assert rewrapped.ciphertext == sealed.ciphertext  # only the data key is re-wrapped
    assert rewrapped.wrapped_key != sealed.wrapped_key
    assert decrypt(rewrapped, AD, NEW) == b"payload"
    # Once the old secret is dropped, only the rewrapped record still opens.
    only_new = KeyRing.from_secrets("new-secret-for-tests-only")
    assert decrypt(rewrapped, AD, only_new) == b"payload"
    with pytest.raises(UnknownKeyError):
        decrypt(sealed, AD, only_new)


def test_rewrap_refuses_a_tampered_record():
    sealed = encrypt(b"payload", AD, OLD)
    tampered = Sealed(flip(sealed.ciphertext), sealed.nonce, sealed.wrapped_key, sealed.key_id)
    with pytest.raises(InvalidTag):
        rewrap(tampered, AD, NEW)
