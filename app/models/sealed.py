"""Columns of a record sealed by app.crypto's envelope encryption, shared by every such table."""
from __future__ import annotations

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from app.crypto import Sealed


class SealedColumns:
    """ciphertext, nonce, wrapped data key and KEK id; `sealed` reads and writes them together.

    A model using this defines `associated_data()`: what the ciphertext is bound to (purpose and
    owner), so a sealed value copied onto another row fails to open.
    """

    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    key_id: Mapped[str] = mapped_column(String(16))

    @property
    def sealed(self) -> Sealed:
        """The stored envelope."""
        return Sealed(self.ciphertext, self.nonce, self.wrapped_key, self.key_id)

    @sealed.setter
    def sealed(self, value: Sealed) -> None:
        self.ciphertext, self.nonce = value.ciphertext, value.nonce
        self.wrapped_key, self.key_id = value.wrapped_key, value.key_id
