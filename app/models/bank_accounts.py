"""Where a seller's payouts go: bank accounts sealed at rest, one current per seller.

Only what a person may see is stored in the clear (holder, country, last four); the account
itself is in `ciphertext`, sealed by app.crypto under the associated data `associated_data()`.
Changing an account keeps the old row with `replaced_at` set, so history is never lost.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import now
from app.extensions import db
from app.models.sealed import SealedColumns

KINDS = ("iban", "us_account")


class BankAccount(SealedColumns, db.Model):
    """A seller's payout destination; the current one has no replaced_at."""

    __tablename__ = "bank_accounts"
    __table_args__ = (
        CheckConstraint("kind IN ('iban', 'us_account')", name="kind_known"),
        # At most one current account per seller, enforced by the database.
        Index("uq_bank_accounts_one_current", "seller_id", unique=True,
              sqlite_where=text("replaced_at IS NULL"),
              postgresql_where=text("replaced_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    holder_name: Mapped[str] = mapped_column(String(120))
    last4: Mapped[str] = mapped_column(String(4))
    country: Mapped[str] = mapped_column(String(2))
    created_at: Mapped[datetime] = mapped_column(default=now)
    replaced_at: Mapped[datetime | None]

    def __repr__(self) -> str:  # never the sealed bytes
        return f"<BankAccount {self.id} seller={self.seller_id} ••••{self.last4}>"

    def associated_data(self) -> bytes:
        """What the sealed account is bound to: its purpose and its owner."""
        return f"bank_account:{self.seller_id}".encode()
