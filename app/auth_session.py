"""Flask-Login wiring: who is logged in, and how a session is revoked server-side."""
from __future__ import annotations

from flask import Flask

from app.extensions import db, login_manager
from app.models import User


def configure_login(app: Flask) -> None:
    """Bind Flask-Login and its user loader."""
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please log in to continue."
    login_manager.session_protection = "strong"

    @login_manager.user_loader
    def _load(session_id: str):
        # The id carries the user's session version; a bumped version (logout everywhere,
        # password change) makes every older session cookie worthless.
        user_id, _, version = session_id.partition(":")
        if not user_id.isdigit() or not version.isdigit():
            return None
        user = db.session.get(User, int(user_id))
        if user is None or user.session_version != int(version):
            return None
        return user
