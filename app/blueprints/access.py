"""Who is acting, what they may reach, and how service refusals become responses."""
from __future__ import annotations

from functools import wraps
from urllib.parse import urlsplit

from flask import abort, flash, redirect, request, url_for
from flask_login import current_user, login_required

from app.auth_session import mfa_is_recent
from app.models.users import STAFF_ROLES, Role
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


def recent_mfa_required(max_age: int = 300):
    """Staff must have passed the authentication-code step within max_age seconds, else they
    are asked for a code and brought back here (PCI DSS 8.4.2, for payment data and sensitive
    actions). Put it below role_required, so that the role is checked first."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if current_user.has_role(*STAFF_ROLES) and not mfa_is_recent(max_age):
                # A form post cannot be replayed after the detour: its page is asked for again.
                back = request.full_path.rstrip("?") if request.method == "GET" else None
                return redirect(url_for("auth.mfa_confirm", next=safe_next(back)), code=303)
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


def deny_object(target: str):
    """Another party's object (or none at all): audit the attempt, then answer 404 so that the
    answer never tells whether the object exists (IDOR, ASVS 8.2.2)."""
    from app.services.audit import record_access

    record_access(current_actor(), "access.denied", target, outcome="failure",
                  method=request.method, path=request.path[:200])
    abort(404)


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
