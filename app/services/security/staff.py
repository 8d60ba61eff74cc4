"""Admins manage staff accounts: who they are, whether two-step sign-in is set up, new accounts
with a temporary password, and a reset of a lost authenticator (every action audit-logged).

Staff accounts are never self-service (accounts.register, in this package, refuses them).
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from app.clock import now
from app.database import locked, unit_of_work
from app.extensions import db
from app.models import User
from app.models.security import EnrolmentCode, MfaSecret, RecoveryCode
from app.models.users import STAFF_ROLES
from app.services import audit
from app.services.audit import Actor
from app.services.errors import Conflict, NotFound, ServiceError
from app.services.security import accounts, enrolment_codes, mfa

STAFF_ROLE_NAMES = tuple(sorted(r.value for r in STAFF_ROLES))


@dataclass(frozen=True)
class StaffMember:
    """One row of the staff page."""

    id: int
    email: str
    display_name: str
    role: str
    active: bool
    mfa_enabled_at: datetime | None
    code_expires_at: datetime | None  # a live enrolment code waits to be used


def list_staff() -> list[StaffMember]:
    """Every support and admin account with its two-step sign-in state."""
    at = now()
    live = (select(EnrolmentCode.user_id, func.max(EnrolmentCode.expires_at).label("expires"))
            .where(EnrolmentCode.usable_at(at)).group_by(EnrolmentCode.user_id).subquery())
    rows = db.session.execute(
        select(User, live.c.expires).outerjoin(live, live.c.user_id == User.id)
        .where(User.role.in_(STAFF_ROLE_NAMES)).order_by(User.role, User.email)).all()
    return [StaffMember(u.id, u.email, u.display_name, u.role, u.is_active_account,
                        u.mfa_enabled_at if mfa.is_enrolled(u.id) else None, expires)
            for u, expires in rows]


def create_staff(email: str, display_name: str, role: str, actor: Actor) -> tuple[int, str]:
    """A new support or admin account; returns its id and a temporary password (shown once).
    The account then needs an enrolment code before it can log in, and must replace the
    password before it can do anything else."""
    email = accounts.normalise_email(email)
    if role not in STAFF_ROLE_NAMES:
        enrolment_codes.refused(actor, "account.created", f"user:{email}",
                                ServiceError("Staff accounts are support or admin."))
    password = secrets.token_urlsafe(15)  # 20 characters, 120 bits: above the staff minimum
    accounts.check_password_policy(role, password)
    try:
        with unit_of_work():
            # Someone else has seen this password: it works once, to choose one's own
            # (PCI DSS 8.3.5; enforced by auth_session._enforce_first_password).
            user = User(email=email, display_name=(display_name or "").strip() or email,
                        role=role, must_change_password=True)
            user.set_password(password)
            db.session.add(user)
            db.session.flush()
            audit.record(actor, "account.created", f"user:{user.id}", role=role, by="admin",
                         temporary_password=True)
            return user.id, password
    except IntegrityError:
        pass
    enrolment_codes.refused(actor, "account.created", f"user:{email}",
                            Conflict("An account with that email already exists."))


def reset_mfa(user_id: int, actor: Actor) -> None:
    """Remove a staff account's TOTP secret, recovery codes and enrolment codes, and end its
    sessions: it sets up two-step sign-in again, with a new enrolment code. Never your own
    (another admin must vouch for you)."""
    target = f"user:{user_id}"
    problem: ServiceError | None = None
    if actor.user_id == user_id:
        problem = Conflict("You cannot reset your own two-step sign-in: ask another admin.")
    else:
        with unit_of_work():
            user = locked(User, user_id)
            if user is None or not mfa.requires_mfa(user):
                problem = NotFound("There is no staff account with that id.")
            else:
                had_secret = db.session.execute(delete(MfaSecret).where(
                    MfaSecret.user_id == user_id)).rowcount
                recovery = db.session.execute(delete(RecoveryCode).where(
                    RecoveryCode.user_id == user_id)).rowcount
                revoked = enrolment_codes.revoke_open(user_id, now())
                user.mfa_enabled_at = None
                user.session_version += 1  # its sessions were opened with the old factor
                audit.record(actor, "mfa.reset", target, had_secret=bool(had_secret),
                             recovery_codes=recovery, enrolment_codes_revoked=revoked)
                return
    enrolment_codes.refused(actor, "mfa.reset", target, problem)


def find_staff_id(email: str) -> int:
    """The id of the staff account with this email (NotFound otherwise)."""
    user = db.session.execute(select(User).where(
        func.lower(User.email) == accounts.normalise_email(email))).scalar_one_or_none()
    if user is None or not mfa.requires_mfa(user):
        raise NotFound("There is no staff account with that email.")
    return user.id
