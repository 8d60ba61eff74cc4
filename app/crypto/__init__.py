"""Encryption of sensitive records at rest (AES-GCM envelope encryption; see envelope.py)."""
from app.crypto.envelope import (
                                 KeyRing,
                                 Sealed,
                                 UnknownKeyError,
                                 current_keyring,
                                 decrypt,
                                 encrypt,
                                 rewrap,
)

__all__ = ["KeyRing", "Sealed", "UnknownKeyError", "current_keyring", "decrypt", "encrypt",
           "rewrap"]
