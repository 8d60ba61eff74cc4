"""Staff multi-factor authentication: TOTP codes (RFC 6238) and one-time recovery codes.

The TOTP secret is sealed with app.crypto, bound to "totp:<user_id>". Opening it is not
audit-logged: it is an authentication factor, not payment or bank data, and it is opened at every
staff login; what the log records is each use (mfa.verified, success or failure, and
mfa.recovery_code_used). A code is accepted one time step either side of now, and never for a
step at or before the last one accepted, so a code seen over a shoulder cannot be replayed.
Enrolment (the QR code) needs an admin-issued enrolment code first (services/security/enrolment_codes.py),
which the confirmed enrolment spends.
Recovery codes are shown once and stored only as keyed hashes (HMAC-SHA256 under a key derived
from ENCRYPTION_KEY; codes hashed under a key in ENCRYPTION_RETIRED_KEYS still verify). A hash
cannot be re-keyed without its code, so once a retired key is dropped after a rotation, the codes
hashed under it stop working: staff then make new ones (new_recovery_codes).

The published demo secret (config.DEMO_TOTP_SECRET) only verifies where demo accounts are
allowed: production refuses it here, since its config cannot see what the database holds.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

import pyotp
import qrcode
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from qrcode.image.svg import SvgPathImage
from sqlalchemy import delete, select

from app import clock, crypto
from app.clock import now
from app.database import locked, unit_of_work
from app.extensions import db
from app.models import User
from app.models.security import EnrolmentCode, MfaSecret, RecoveryCode
from app.models.users import STAFF_ROLES
from app.services import audit
from app.services.audit import Actor
from app.services.errors import Conflict, ServiceError
from app.services.security import accounts, throttle
from config import DEMO_TOTP_SECRET

ISSUER = "Holdfast"
STEP_SECONDS = 30
RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread
_TOTP_CODE = re.compile(r"^\d{6}$")
_RECOVERY_CODE = re.compile(rf"^[{_RECOVERY_ALPHABET}]{{10}}$")
_RECOVERY_INFO = b"holdfast/recovery-code/v1"
ENROLMENT_CODE_GONE = "Your enrolment code is no longer valid (expired, replaced or used). " \
                      "Ask an admin for a new one."
WRONG_CODE = "That code is not right. Type the current code from your authenticator app, or an " \
             "unused recovery code."


@dataclass(frozen=True)
class Enrolment:
    """What a person needs to add the account to an authenticator app."""

    secret: str
    uri: str
    qr_data_uri: str  # an SVG QR code as a data: URI (no request leaves the page)


class _DemoTOTP(pyotp.TOTP):
    """The published demo secret is 80 bits, below pyotp's 112-bit floor (NIST SP 800-63B);
    it protects nothing, and real secrets are 160 bits (pyotp.random_base32)."""

    min_secret_length_bits = 80


def totp(secret: str) -> pyotp.TOTP:
    """The TOTP generator for a secret (ValueError for a malformed or too short one)."""
    return (_DemoTOTP if secret == DEMO_TOTP_SECRET else pyotp.TOTP)(secret)


def requires_mfa(user: User) -> bool:
    """Support and admin accounts must pass a second step (PCI DSS 8.4.2)."""
    return user.has_role(*STAFF_ROLES)


def is_enrolled(user_id: int) -> bool:
    """True once the user confirmed a TOTP secret with a valid code."""
    row = db.session.get(MfaSecret, user_id)
    return bool(row and row.confirmed_at)


def _locked_secret(user_id: int) -> MfaSecret | None:
    return db.session.execute(select(MfaSecret).where(MfaSecret.user_id == user_id)
                              .with_for_update()).scalar_one_or_none()


def _seal(row: MfaSecret, secret: str) -> None:
    row.sealed = crypto.encrypt(secret.encode(), row.associated_data())


def _open(row: MfaSecret) -> str:
    return crypto.decrypt(row.sealed, row.associated_data()).decode()


def _qr_data_uri(uri: str) -> str:
    svg = qrcode.make(uri, image_factory=SvgPathImage, border=2).to_string()
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode()


def _unlocking_code(user_id: int, code_id: int | None) -> EnrolmentCode:
    """The enrolment code that unlocked this set-up, locked, while still usable (see
    services/security/enrolment_codes.py: no QR code without an admin-issued code)."""
    row = None if code_id is None else db.session.execute(
        select(EnrolmentCode).where(EnrolmentCode.id == code_id,
                                    EnrolmentCode.user_id == user_id,
                                    EnrolmentCode.usable_at(now())).with_for_update()
    ).scalar_one_or_none()
    if row is None:
        raise Conflict(ENROLMENT_CODE_GONE)
    return row


def begin_enrolment(user_id: int, actor: Actor, enrolment_code_id: int | None) -> Enrolment:
    """The unconfirmed secret to scan, created on first call (a reload shows the same one);
    only while the enrolment code the user typed is still usable."""
    with unit_of_work():
        user = locked(User, user_id)
        row = _locked_secret(user_id)
        if row is not None and row.confirmed_at is not None:
            raise Conflict("Two-step sign-in is already set up for this account.")
        _unlocking_code(user_id, enrolment_code_id)
        if row is None:
            row = MfaSecret(user_id=user_id)
            _seal(row, pyotp.random_base32())
            db.session.add(row)
            audit.record(actor, "mfa.enrolment_started", f"user:{user_id}", key_id=row.key_id)
        secret = _open(row)
        uri = totp(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)
    return Enrolment(secret, uri, _qr_data_uri(uri))


def _accepted_step(row: MfaSecret, code: str) -> tuple[int | None, str]:
    """The time step the code belongs to if it may be accepted, else None and why not."""
    code = re.sub(r"\s", "", code or "")
    if not _TOTP_CODE.match(code):
        return None, "not a code"
    secret = _open(row)
    if secret == DEMO_TOTP_SECRET and not current_app.config.get("DEMO_ACCOUNTS_ALLOWED"):
        return None, "demo secret refused"
    generator = totp(secret)
    current = int(clock.timestamp()) // STEP_SECONDS
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(generator.at(step * STEP_SECONDS), code):
            if step <= row.last_used_step:
                return None, "code already used"
            return step, "ok"
    return None, "wrong code"


def confirm_enrolment(user_id: int, code: str, actor: Actor,
                      enrolment_code_id: int | None) -> list[str]:
    """Confirm the new secret with a code from it, spending the enrolment code; returns the
    recovery codes (shown once)."""
    with unit_of_work():
        user = locked(User, user_id)
        row = _locked_secret(user_id)
        if row is None or row.confirmed_at is not None:
            raise Conflict("There is no set-up waiting to be confirmed.")
        unlocking = _unlocking_code(user_id, enrolment_code_id)
        step, reason = _accepted_step(row, code)
        if step is not None:
            row.last_used_step, row.confirmed_at = step, now()
            user.mfa_enabled_at = unlocking.used_at = row.confirmed_at
            codes = _replace_recovery_codes(user_id)
            audit.record(actor, "mfa.enrolled", f"user:{user_id}", recovery_codes=len(codes),
                         enrolment_code_id=unlocking.id)
            return codes
        audit.record(actor, "mfa.enrolled", f"user:{user_id}", outcome="failure", reason=reason)
    raise ServiceError(WRONG_CODE)


def verify(user_id: int, code: str, actor: Actor, device: str | None = None) -> str:
    """Check a TOTP or recovery code of an enrolled user; returns "totp" or "recovery_code".

    Counts a wrong code as a failed login (services/security/throttle.py) and refuses while locked.
    """
    user = db.session.get(User, user_id)
    account = accounts.normalise_email(user.email)
    source = throttle.Source(actor.origin, device)
    lock = throttle.login_lock(account, source)
    with unit_of_work():
        row = _locked_secret(user_id)
        if row is None or row.confirmed_at is None:
            raise Conflict("Two-step sign-in is not set up for this account.")
        if lock is not None:
            audit.record(actor, "mfa.verified", f"user:{user_id}", outcome="failure",
                         reason="locked", scope=lock.scope)
        else:
            step, reason = _accepted_step(row, code)
            if step is not None:
                row.last_used_step = step
                audit.record(actor, "mfa.verified", f"user:{user_id}", method="totp")
                return "totp"
            if _use_recovery_code(user_id, code, actor):
                audit.record(actor, "mfa.verified", f"user:{user_id}", method="recovery_code")
                return "recovery_code"
            audit.record(actor, "mfa.verified", f"user:{user_id}", outcome="failure",
                         reason=reason)
    if lock is not None:
        raise throttle.LockedOut(lock.retry_after)
    throttle.login_failed(account, source)
    raise ServiceError(WRONG_CODE)


def new_recovery_codes(user_id: int, actor: Actor) -> list[str]:
    """Replace an enrolled user's recovery codes with ten new ones (shown once)."""
    with unit_of_work():
        row = _locked_secret(user_id)
        if row is None or row.confirmed_at is None:
            raise Conflict("Two-step sign-in is not set up for this account.")
        codes = _replace_recovery_codes(user_id)
        audit.record(actor, "mfa.recovery_codes_replaced", f"user:{user_id}",
                     recovery_codes=len(codes))
    return codes


def enrol_with_secret(user_id: int, secret: str, actor: Actor) -> bool:
    """Enrol (confirmed) with a given secret, for seeding; False when already enrolled."""
    if secret == DEMO_TOTP_SECRET and not current_app.config.get("DEMO_ACCOUNTS_ALLOWED"):
        raise ServiceError("the demo TOTP secret is refused in this environment")
    try:
        totp(secret)
    except ValueError:
        raise ServiceError("a TOTP secret is base32 of at least 112 bits") from None
    with unit_of_work():
        user = locked(User, user_id)
        row = _locked_secret(user_id)
        if row is not None and row.confirmed_at is not None:
            return False
        if row is None:
            row = MfaSecret(user_id=user_id)
            db.session.add(row)
        _seal(row, secret)
        row.confirmed_at = user.mfa_enabled_at = now()
        db.session.flush()
        audit.record(actor, "mfa.enrolled", f"user:{user_id}", preset=True)
    return True


# --- Recovery codes ------------------------------------------------------------------------

def hash_keys(info: bytes = _RECOVERY_INFO) -> list[bytes]:
    """Keys for hashing one-time codes of one purpose (info): the current key first, then
    those of retired encryption keys."""
    cfg = current_app.config
    names = [cfg["ENCRYPTION_KEY"], *(s.strip() for s in
                                      (cfg.get("ENCRYPTION_RETIRED_KEYS") or "").split(","))]
    return [HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info)
            .derive(name.encode()) for name in names if name]


def _recovery_hash(key: bytes, user_id: int, code: str) -> str:
    return hmac.new(key, f"{user_id}:{code}".encode(), hashlib.sha256).hexdigest()


def normalise_recovery_code(code: str) -> str:
    """Recovery codes compare without case, spaces or dashes."""
    return re.sub(r"[\s-]", "", code or "").lower()


def _replace_recovery_codes(user_id: int) -> list[str]:
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    key = hash_keys()[0]
    codes = ["".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
             for _ in range(RECOVERY_CODES)]
    db.session.add_all(RecoveryCode(user_id=user_id, code_hash=_recovery_hash(key, user_id, c))
                       for c in codes)
    return [f"{c[:5]}-{c[5:]}" for c in codes]


def _use_recovery_code(user_id: int, code: str, actor: Actor) -> bool:
    code = normalise_recovery_code(code)
    if not _RECOVERY_CODE.match(code):
        return False
    hashes_ = [_recovery_hash(key, user_id, code) for key in hash_keys()]
    found = db.session.execute(
        select(RecoveryCode).where(RecoveryCode.user_id == user_id,
                                   RecoveryCode.code_hash.in_(hashes_),
                                   RecoveryCode.used_at.is_(None)).with_for_update()
    ).scalar_one_or_none()
    if found is None:
        return False
    found.used_at = now()
    audit.record(actor, "mfa.recovery_code_used", f"user:{user_id}",
                 remaining=recovery_codes_left(user_id))
    return True


def recovery_codes_left(user_id: int) -> int:
    """How many unused recovery codes the user has."""
    return len(db.session.execute(select(RecoveryCode.id).where(
        RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None))).all())
