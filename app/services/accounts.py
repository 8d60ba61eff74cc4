"""Sign-up, login and logout, each audit-logged."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from flask import current_app

from app.database import locked, unit_of_work
from app.extensions import db
from app.models import Role, User
from app.services import audit
from app.services.audit import Actor
from app.services.errors import ServiceError
from config import DEMO_ACCOUNTS

DEMO_EMAILS = frozenset(email for email, _, _ in DEMO_ACCOUNTS)

SELF_SERVICE_ROLES = {Role.BUYER.value, Role.SELLER.value}
MIN_PASSWORD = 10


def normalise_email(email: str) -> str:
    """Emails compare case-insensitively and without surrounding spaces."""
    return (email or "").strip().lower()


def register(email: str, password: str, display_name: str, role: str, actor: Actor) -> int:
    """Create a buyer or seller account; staff accounts are never self-service."""
    email = normalise_email(email)
    if role not in SELF_SERVICE_ROLES:
        raise ServiceError("You can sign up as a buyer or a seller.")
    if len(password or "") < MIN_PASSWORD:
        raise ServiceError(f"Choose a password of at least {MIN_PASSWORD} characters.")
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


def authenticate(email: str, password: str, actor: Actor) -> User | None:
    """The user when the credentials match, else None; both outcomes are audit-logged."""
    email = normalise_email(email)
    with unit_of_work():
        user = db.session.execute(
            select(User).where(func.lower(User.email) == email)
        ).scalar_one_or_none()
        # Demo accounts have a published password: only development and tests accept them.
        demo_refused = email in DEMO_EMAILS and not current_app.config["DEMO_ACCOUNTS_ALLOWED"]
        ok = bool(user and user.is_active and not demo_refused
                  and user.check_password(password or ""))
        audit.record(Actor(email or "(blank)", actor.origin, user.id if user else None),
                     "auth.login", f"user:{user.id if user else email}",
                     outcome="success" if ok else "failure")
    return user if ok else None


def logout_everywhere(user_id: int, actor: Actor) -> None:
    """Invalidate every session of the user on the server side."""
    with unit_of_work():
        user = locked(User, user_id)
        user.session_version += 1
        audit.record(actor, "auth.logout", f"user:{user_id}")
