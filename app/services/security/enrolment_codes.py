"""Admin-issued enrolment codes: a staff account sets up two-step sign-in only after typing a
one-time code that an admin (or an operator, `flask staff enrolment-code`) gave it.

Why (PCI DSS 8.3 / 8.4.2, ASVS): a new authentication factor must be bound to an identity that
was already verified. Without this, whoever knows or guesses a new staff account's password
would scan the QR code with their own phone and keep staff access for good.

A code is 16 characters (about 79 bits), shown once to whoever issued it, stored only as a keyed
hash (mfa.hash_keys under its own purpose label, so a recovery-code hash can never match it),
valid for CODE_TTL, and spent by the enrolment it unlocked. Issuing a new code revokes the
account's older unused ones and discards an unconfirmed secret, since whoever saw the old QR code
must not finish with it. A wrong code counts as a failed login (services/security/throttle.py) and every
check is audit-logged.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NoReturn

from sqlalchemy import delete, select, update

from app.clock import now
from app.database import locked, unit_of_work
from app.extensions import db
from app.models import User
from app.models.security import EnrolmentCode, MfaSecret
from app.services import audit
from app.services.audit import Actor
from app.services.errors import Conflict, NotFound, ServiceError
from app.services.security import accounts, mfa, throttle

CODE_TTL = timedelta(hours=24)
CODE_LENGTH = 16
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread
_CODE = re.compile(rf"^[{_ALPHABET}]{{{CODE_LENGTH}}}$")
_INFO = b"holdfast/enrolment-code/v1"
INVALID = ("That enrolment code is not valid (mistyped, expired, replaced by a newer one, or "
           "already used). Ask an admin for a new one if needed.")


@dataclass(frozen=True)
class IssuedCode:
    """A new enrolment code, in the clear only here: show it once, never store it."""

    user_id: int
    code: str
    expires_at: datetime


def _hash(key: bytes, user_id: int, code: str) -> str:
    return hmac.new(key, f"enrol:{user_id}:{code}".encode(), hashlib.sha256).hexdigest()


def normalise(code: str) -> str:
    """Enrolment codes compare without case, spaces or dashes."""
    return re.sub(r"[\s-]", "", code or "").lower()


def revoke_open(user_id: int, at: datetime) -> int:
    """Revoke the account's unused codes in the caller's transaction; how many there were."""
    return db.session.execute(
        update(EnrolmentCode).where(EnrolmentCode.user_id == user_id,
                                    EnrolmentCode.used_at.is_(None),
                                    EnrolmentCode.revoked_at.is_(None))
        .values(revoked_at=at)).rowcount


def refused(actor: Actor, action: str, target: str, exc: ServiceError, **details) -> NoReturn:
    """Audit a refused staff action in its own transaction, then raise its error."""
    with unit_of_work():
        audit.record(actor, action, target, outcome="failure", reason=exc.message, **details)
    raise exc


def issue(user_id: int, actor: Actor) -> IssuedCode:
    """A new code for a staff account without two-step sign-in, valid for CODE_TTL; replaces
    older ones. Refused (and audited) for other accounts and already enrolled ones."""
    target = f"user:{user_id}"
    with unit_of_work():
        user = locked(User, user_id)
        problem: ServiceError | None = None
        if user is None or not mfa.requires_mfa(user):
            problem = NotFound("There is no staff account with that id.")
        elif mfa.is_enrolled(user_id):
            problem = Conflict("That account already has two-step sign-in; reset it first.")
        else:
            at = now()
            replaced = revoke_open(user_id, at)
            db.session.execute(delete(MfaSecret).where(MfaSecret.user_id == user_id,
                                                       MfaSecret.confirmed_at.is_(None)))
            code = "".join(secrets.choice(_ALPHABET) for _ in range(CODE_LENGTH))
            row = EnrolmentCode(user_id=user_id, issued_by=actor.user_id, created_at=at,
                                code_hash=_hash(mfa.hash_keys(_INFO)[0], user_id, code),
                                expires_at=at + CODE_TTL)
            db.session.add(row)
            db.session.flush()
            audit.record(actor, "mfa.enrolment_code_issued", target, code_id=row.id,
                         expires_at=row.expires_at, replaced=replaced)
            shown = "-".join(code[i:i + 4] for i in range(0, CODE_LENGTH, 4))
            return IssuedCode(user_id, shown, row.expires_at)
    refused(actor, "mfa.enrolment_code_issued", target, problem)


def usable_code_expiry(user_id: int) -> datetime | None:
    """When the account's live enrolment code expires, or None when it has none."""
    return db.session.execute(select(EnrolmentCode.expires_at).where(
        EnrolmentCode.user_id == user_id, EnrolmentCode.usable_at(now()))
        .order_by(EnrolmentCode.expires_at.desc()).limit(1)).scalar_one_or_none()


def _find(user_id: int, code: str) -> tuple[EnrolmentCode | None, str]:
    """The account's code row if code is usable now, else None and why not."""
    code = normalise(code)
    if not _CODE.match(code):
        return None, "not a code"
    row = db.session.execute(
        select(EnrolmentCode).where(
            EnrolmentCode.user_id == user_id,
            EnrolmentCode.code_hash.in_([_hash(k, user_id, code)
                                         for k in mfa.hash_keys(_INFO)]))
        .with_for_update()).scalar_one_or_none()
    if row is None:
        return None, "wrong code"
    if row.used_at is not None:
        return None, "code already used"
    if row.revoked_at is not None:
        return None, "code revoked"
    if row.expires_at <= now():
        return None, "code expired"
    return row, "ok"


def check(user_id: int, code: str, actor: Actor, device: str | None = None) -> int:
    """Check an enrolment code typed at first login; returns its id (the enrolment spends it).

    Counts a wrong code as a failed login (services/security/throttle.py) and refuses while locked.
    """
    user = db.session.get(User, user_id)
    account = accounts.normalise_email(user.email)
    source = throttle.Source(actor.origin, device)
    lock = throttle.login_lock(account, source)
    target = f"user:{user_id}"
    with unit_of_work():
        if lock is not None:
            audit.record(actor, "mfa.enrolment_code_checked", target, outcome="failure",
                         reason="locked", scope=lock.scope)
        else:
            row, reason = _find(user_id, code)
            if row is not None:
                audit.record(actor, "mfa.enrolment_code_checked", target, code_id=row.id)
                return row.id
            audit.record(actor, "mfa.enrolment_code_checked", target, outcome="failure",
                         reason=reason)
    if lock is not None:
        raise throttle.LockedOut(lock.retry_after)
    throttle.login_failed(account, source)
    raise ServiceError(INVALID)
