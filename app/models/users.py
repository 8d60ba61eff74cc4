"""People who use Holdfast and the role that decides what they may do."""
from __future__ import annotations

from datetime import datetime
from enum import Enum

from flask import current_app, has_app_context
from flask_login import UserMixin
from sqlalchemy import String, false
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from app.clock import now
from app.extensions import db


class Role(str, Enum):
    """What a user is to the marketplace."""

    BUYER = "buyer"
    SELLER = "seller"
    SUPPORT = "support"
    ADMIN = "admin"

    def __str__(self) -> str:
        return self.value


STAFF_ROLES = frozenset({Role.SUPPORT, Role.ADMIN})


class User(UserMixin, db.Model):
    """An account: buyer, seller, support or admin."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    is_active_account: Mapped[bool] = mapped_column(default=True)
    # Changing this invalidates every session of the user (see auth loader).
    session_version: Mapped[int] = mapped_column(default=1)
    password_changed_at: Mapped[datetime | None]
    mfa_enabled_at: Mapped[datetime | None]  # staff: set once TOTP enrolment is confirmed
    # Set while the password is a temporary one an admin handed out: until it is changed the
    # account reaches only the change-password page (auth_session._enforce_first_password).
    must_change_password: Mapped[bool] = mapped_column(default=False, server_default=false())
    # A buyer's billing country (ISO 3166 alpha-2): the tax their orders take.
    country: Mapped[str | None] = mapped_column(String(2))
    created_at: Mapped[datetime] = mapped_column(default=now)

    def set_password(self, password: str) -> None:
        """Store a salted, slow hash of the password (never the password): werkzeug's default
        method unless the config names one (only the test suite does, config.TestConfig)."""
        method = current_app.config.get("PASSWORD_HASH_METHOD") if has_app_context() else None
        self.password_hash = (generate_password_hash(password, method=method) if method
                              else generate_password_hash(password))

    def check_password(self, password: str) -> bool:
        """True when password matches the stored hash."""
        return check_password_hash(self.password_hash, password)

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive accounts
        return self.is_active_account

    def get_id(self) -> str:
        # The session version is part of the id: bumping it logs out every session.
        return f"{self.id}:{self.session_version}"

    def has_role(self, *roles: Role) -> bool:
        """True when the user's role is one of roles."""
        return self.role in {r.value for r in roles}
