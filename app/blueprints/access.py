"""Who is acting, what they may reach, and how service refusals become responses."""
from __future__ import annotations

from functools import wraps
from urllib.parse import urlsplit

from flask import abort, flash, request
from flask_login import current_user, login_required

from app.models.users import Role
from app.services.audit import Actor
from app.services.errors import ServiceError


def current_actor() -> Actor:
    """The logged-in user (or anonymous) and the request's origin address."""
    origin = request.remote_addr or "unknown"
    if current_user.is_authenticated:
        return Actor(current_user.email, origin, current_user.id)
    return Actor("anonymous", origin)


def role_required(*roles: Role):
    """Allow only logged-in users with one of roles; others get 403 (anonymous: login)."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if not current_user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def safe_next(target: str | None) -> str | None:
    """A post-login destination only if it stays on this site (no open redirect)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") \
            or "\\" in target:
        return None
    return target


def flash_error(error: ServiceError) -> None:
    """Show a service refusal to a person."""
    flash(error.message, "error")


def service_abort(error: ServiceError):
    """Turn a service refusal into the matching HTTP error with its safe message."""
    try:
        abort(error.status, description=error.message)
    except Exception as exc:  # mark the message as safe to show (see app.errors)
        exc.holdfast_message = True
        raise
