"""Flask-Login wiring: who is logged in, how a session starts, ends and is revoked server-side.

A session that starts at login is brand new (no fixation) and carries timestamps: when the user
logged in, when they were last seen, and when they last passed the authentication-code step.
Staff sessions end after STAFF_IDLE_SECONDS without a request (PCI DSS 8.2.8) and, active or
not, STAFF_SESSION_SECONDS after login; both are checked here on every request. The cookie is
signed, so a client cannot move its own timestamps forward.

An account whose password an admin handed out (User.must_change_password) reaches nothing but
the change-password page, logout and static files until it chooses its own (PCI DSS 8.3.5/
8.3.6). The check applies to a full sign-in, so staff pass their authentication-code step (and
set it up, the first time) before they are asked for a new password.
"""
from __future__ import annotations

import time

from flask import (
    Flask,
    current_app,
    flash,
    jsonify,
    redirect,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user, logout_user

from app.errors import wants_json
from app.extensions import db, login_manager
from app.models import User
from app.models.users import STAFF_ROLES

AUTH_AT, SEEN_AT, MFA_AT = "auth_at", "seen_at", "mfa_at"
PENDING = "mfa_pending"


def configure_login(app: Flask) -> None:
    """Bind Flask-Login, its user loader and the staff session limits."""
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

    app.before_request(_enforce_staff_limits)
    app.before_request(_enforce_first_password)  # after the limits: an expired session ends


def start_session(user: User, mfa_verified: bool = False) -> None:
    """Log user in on a brand-new session (nothing from before login survives)."""
    session.clear()
    login_user(user)
    stamp = time.time()
    session[AUTH_AT] = session[SEEN_AT] = stamp
    if mfa_verified:
        session[MFA_AT] = stamp


def renew_session(user: User) -> None:
    """Re-issue the current session for user after a session-version bump (password change),
    keeping its login and authentication-code times."""
    kept = {k: session[k] for k in (AUTH_AT, SEEN_AT, MFA_AT) if k in session}
    session.clear()
    login_user(user)
    session.update(kept)


def start_pending(user: User, next_url: str | None) -> None:
    """Password accepted, code still to come: a fresh session that is NOT logged in, holding
    only who is half-way through (for MFA_PENDING_SECONDS) and where to go afterwards."""
    session.clear()
    session[PENDING] = {"user": user.id, "version": user.session_version, "at": time.time(),
                        "next": next_url, "tries": 0}


def pending_user() -> User | None:
    """The user half-way through logging in, while the marker is fresh and still valid."""
    marker = session.get(PENDING)
    if not isinstance(marker, dict) or not isinstance(marker.get("at"), (int, float)) \
            or not isinstance(marker.get("user"), int):
        return None
    if not 0 <= time.time() - marker["at"] <= current_app.config["MFA_PENDING_SECONDS"]:
        return None
    user = db.session.get(User, marker.get("user"))
    if user is None or not user.is_active or user.session_version != marker.get("version"):
        return None
    return user


def pending_next() -> str | None:
    """Where the half-way user asked to go."""
    return (session.get(PENDING) or {}).get("next")


def count_pending_failure() -> int:
    """Note one more wrong code on the pending marker; returns how many so far."""
    marker = dict(session.get(PENDING) or {})
    marker["tries"] = int(marker.get("tries", 0)) + 1
    session[PENDING] = marker
    return marker["tries"]


def clear_pending() -> None:
    """Forget the half-way login."""
    session.pop(PENDING, None)


def mark_mfa_verified() -> None:
    """The user just passed the authentication-code step."""
    session[MFA_AT] = time.time()


def mfa_is_recent(max_age: int) -> bool:
    """True when this session passed the authentication-code step within max_age seconds."""
    verified = session.get(MFA_AT)
    return isinstance(verified, (int, float)) and 0 <= time.time() - verified <= max_age


def _expiry_message(now: float) -> str | None:
    cfg = current_app.config
    started, seen = session.get(AUTH_AT), session.get(SEEN_AT)
    if not isinstance(started, (int, float)) or not isinstance(seen, (int, float)):
        return "Please log in again."
    if now - started > cfg["STAFF_SESSION_SECONDS"]:
        hours = cfg["STAFF_SESSION_SECONDS"] // 3600
        return f"Staff sessions last at most {hours} hours: please log in again."
    if now - seen > cfg["STAFF_IDLE_SECONDS"]:
        minutes = cfg["STAFF_IDLE_SECONDS"] // 60
        return f"You were logged out after {minutes} minutes without activity. " \
               "Please log in again."
    return None


def _enforce_staff_limits():
    """End an idle or too-old staff session; otherwise note that the user was seen."""
    if request.endpoint == "static" or not current_user.is_authenticated \
            or not current_user.has_role(*STAFF_ROLES):
        return None
    now = time.time()
    message = _expiry_message(now)
    if message is None:
        session[SEEN_AT] = now
        return None
    logout_user()
    session.clear()
    flash(message, "error")
    target = request.full_path.rstrip("?") if request.method == "GET" else None
    return redirect(url_for("auth.login", next=target), code=303)


# Endpoints an account with a temporary password may still reach.
FIRST_PASSWORD_OPEN = frozenset({"static", "auth.change_password", "auth.logout"})
FIRST_PASSWORD_MESSAGE = "Your password was set by an administrator: choose your own password " \
                         "before you continue."


def _enforce_first_password():
    """Send an account that still has its temporary password to the change-password page
    (303); JSON and htmx clients get 403 with the reason, as they cannot follow to a form."""
    if request.endpoint in FIRST_PASSWORD_OPEN or not current_user.is_authenticated \
            or not current_user.must_change_password:
        return None
    if wants_json() or request.htmx:
        return jsonify(error={"code": 403, "reason": "password_change_required",
                              "message": FIRST_PASSWORD_MESSAGE}), 403
    flash(FIRST_PASSWORD_MESSAGE, "error")
    return redirect(url_for("auth.change_password"), code=303)
