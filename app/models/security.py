"""Staff multi-factor authentication and buyers' saved payment methods (the vault)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, and_, text
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import now
from app.extensions import db
from app.models.sealed import SealedColumns


class MfaSecret(SealedColumns, db.Model):
    """A user's TOTP secret, sealed; confirmed once the user typed a valid code from it."""

    __tablename__ = "mfa_secrets"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=now)
    confirmed_at: Mapped[datetime | None]
    # The last accepted time step: a code is never accepted twice.
    last_used_step: Mapped[int] = mapped_column(default=0)

    def associated_data(self) -> bytes:
        """Bound to its purpose and its owner."""
        return f"totp:{self.user_id}".encode()


class RecoveryCode(db.Model):
    """A one-time recovery code, stored as a keyed hash only."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=now)
    used_at: Mapped[datetime | None]


class SavedPaymentMethod(SealedColumns, db.Model):
    """A returning buyer's card at a PSP: the PSP's token sealed, display data in the clear."""

    __tablename__ = "saved_payment_methods"
    __table_args__ = (
        # One live copy of a card per buyer (the fingerprint is a keyed HMAC, never the number).
        Index("uq_saved_payment_methods_live_card", "buyer_id", "fingerprint", unique=True,
              sqlite_where=text("revoked_at IS NULL"),
              postgresql_where=text("revoked_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    buyer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    provider: Mapped[str] = mapped_column(String(32))
    brand: Mapped[str] = mapped_column(String(24))
    last4: Mapped[str] = mapped_column(String(4))
    exp_month: Mapped[int]
    exp_year: Mapped[int]
    fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=now)
    revoked_at: Mapped[datetime | None]

    def associated_data(self) -> bytes:
        """Bound to its purpose and its owner."""
        return f"payment_method:{self.buyer_id}".encode()


class EnrolmentCode(db.Model):
    """A one-time code an admin issues so that a staff account may set up two-step sign-in
    (enrolment bound to an identity someone already vouched for); stored as a keyed hash only."""

    __tablename__ = "enrolment_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    issued_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # None: the CLI
    created_at: Mapped[datetime] = mapped_column(default=now)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]  # replaced by a newer code, or the MFA was reset

    @classmethod
    def usable_at(cls, at: datetime):
        """The SQL condition of a code that may still unlock an enrolment at `at`."""
        return and_(cls.used_at.is_(None), cls.revoked_at.is_(None), cls.expires_at > at)
