"""Sign-up, login, logout and password changes, each audit-logged.

Failed logins are counted and locked out by services/security/throttle.py (see its docstring).
"""
from __future__ import annotations

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.clock import now
from app.database import locked, unit_of_work
from app.extensions import db
from app.models import Role, User
from app.models.users import STAFF_ROLES
from app.services import audit
from app.services.audit import Actor
from app.services.errors import ServiceError
from app.services.security import throttle
from config import DEMO_ACCOUNTS

DEMO_EMAILS = frozenset(email for email, _, _ in DEMO_ACCOUNTS)

SELF_SERVICE_ROLES = {Role.BUYER.value, Role.SELLER.value}
MIN_PASSWORD = 10
MIN_STAFF_PASSWORD = 12  # PCI DSS 8.3.6
MAX_PASSWORD = 256


def min_password_length(role: str) -> int:
    """Staff passwords are longer than buyers' and sellers'."""
    return MIN_STAFF_PASSWORD if role in {r.value for r in STAFF_ROLES} else MIN_PASSWORD


def check_password_policy(role: str, password: str) -> None:
    """ServiceError when password is too short or too long for the role."""
    shortest = min_password_length(role)
    if len(password or "") < shortest:
        raise ServiceError(f"Choose a password of at least {shortest} characters.")
    if len(password) > MAX_PASSWORD:
        raise ServiceError(f"Choose a password of at most {MAX_PASSWORD} characters.")


def normalise_email(email: str) -> str:
    """Emails compare case-insensitively and without surrounding spaces."""
    return (email or "").strip().lower()


def register(email: str, password: str, display_name: str, role: str, actor: Actor) -> int:
    """Create a buyer or seller account; staff accounts are never self-service."""
    email = normalise_email(email)
    if role not in SELF_SERVICE_ROLES:
        raise ServiceError("You can sign up as a buyer or a seller.")
    check_password_policy(role, password)
    try:
        with unit_of_work():
            user = User(email=email, display_name=display_name.strip() or email, role=role)
            user.set_password(password)
            db.session.add(user)
            db.session.flush()
            audit.record(actor, "account.created", f"user:{user.id}", role=role)
            return user.id
    except IntegrityError:
        raise ServiceError("An account with that email already exists.") from None


def authenticate(email: str, password: str, actor: Actor,
                 device: str | None = None) -> User | None:
    """The user when the credentials match, else None; both outcomes are audit-logged.

    Raises throttle.LockedOut, without looking at the password, while attempts are locked out.
    """
    email = normalise_email(email)
    source = throttle.Source(actor.origin, device)
    lock = throttle.login_lock(email, source)
    with unit_of_work():
        user = db.session.execute(
            select(User).where(func.lower(User.email) == email)
        ).scalar_one_or_none()
        who = Actor(email or "(blank)", actor.origin, user.id if user else None)
        target = f"user:{user.id if user else email}"
        if lock is not None:
            audit.record(who, "auth.login", target, outcome="failure", reason="locked",
                         scope=lock.scope)
            ok = False
        else:
            # Demo accounts have a published password: only development and tests accept them.
            demo_refused = email in DEMO_EMAILS and not current_app.config["DEMO_ACCOUNTS_ALLOWED"]
            ok = bool(user and user.is_active and not demo_refused
                      and user.check_password(password or ""))
            audit.record(who, "auth.login", target, outcome="success" if ok else "failure")
    if lock is not None:
        raise throttle.LockedOut(lock.retry_after)
    if not ok:
        throttle.login_failed(email, source)
    return user if ok else None


def change_password(user_id: int, current: str, new: str, actor: Actor,
                    device: str | None = None) -> None:
    """Replace the password after checking the current one; ends every session of the user.
    Clears must_change_password: a temporary password, once replaced, is gone for good.

    A wrong current password counts as a failed login (a stolen session cannot guess it freely).
    """
    user = db.session.get(User, user_id)
    account, source = normalise_email(user.email), throttle.Source(actor.origin, device)
    lock = throttle.login_lock(account, source)
    if lock is not None:
        raise throttle.LockedOut(lock.retry_after)
    with unit_of_work():
        user = locked(User, user_id)
        if user.check_password(current or ""):
            check_password_policy(user.role, new)
            if user.check_password(new):
                raise ServiceError("Choose a new password that differs from the current one.")
            first_use = user.must_change_password
            user.set_password(new)
            user.password_changed_at = now()
            user.must_change_password = False
            user.session_version += 1
            # The first-use change is what PCI DSS 8.3.5 asks for: the log says it happened.
            first = {"first_use": True, "reason": "first-use change of a temporary password"}
            audit.record(actor, "auth.password_changed", f"user:{user_id}",
                         **(first if first_use else {}))
            return
        audit.record(actor, "auth.password_changed", f"user:{user_id}", outcome="failure",
                     reason="wrong current password")
    throttle.login_failed(account, source)
    raise ServiceError("Your current password is not correct; the password was not changed.")


def logout_everywhere(user_id: int, actor: Actor) -> None:
    """Invalidate every session of the user on the server side."""
    with unit_of_work():
        user = locked(User, user_id)
        user.session_version += 1
        audit.record(actor, "auth.logout", f"user:{user_id}")
