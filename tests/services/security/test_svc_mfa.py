"""Staff TOTP: enrolment, the ±1 step window, no replay, recovery codes, the demo secret."""
from __future__ import annotations

import json

import pyotp
import pytest
from sqlalchemy import select

from app import clock
from app.extensions import db
from app.models import AuditRecord, User
from app.models.security import MfaSecret, RecoveryCode
from app.services.audit import Actor
from app.services.errors import Conflict, ServiceError
from app.services.security import enrolment_codes, mfa
from app.services.security.throttle import LockedOut
from config import DEMO_TOTP_SECRET
from tests.flows import TOTP_SECRET

ORIGIN = "198.51.100.7"


def staff_actor(people, who="support") -> Actor:
    return Actor(f"{who}@test.example", ORIGIN, people[who])


@pytest.fixture
def newcomer(app, people) -> int:
    """A support account that has not set up two-step sign-in yet."""
    db.session.execute(MfaSecret.__table__.delete().where(
        MfaSecret.user_id == people["support"]))
    db.session.get(User, people["support"]).mfa_enabled_at = None
    db.session.commit()
    return people["support"]


def unlock(user_id: int, people) -> int:
    """Issue an enrolment code as the admin and type it as the newcomer: the code's id."""
    issued = enrolment_codes.issue(user_id, staff_actor(people, "admin"))
    return enrolment_codes.check(user_id, issued.code, staff_actor(people))


@pytest.fixture
def code_id(newcomer, people) -> int:
    """The enrolment code that unlocked the newcomer's set-up."""
    return unlock(newcomer, people)


class ShortSecretTOTP(pyotp.TOTP):
    min_secret_length_bits = 80  # the published demo secret is 80 bits


@pytest.fixture(autouse=True)
def mid_step(platform_clock):
    """The platform's clock stands still in the middle of a 30-s step: "one step either side"
    means exactly that, however long the test takes (no step boundary can pass mid-test)."""
    platform_clock.freeze(1_800_000_000 + 15)
    return platform_clock


def code_at(secret: str, offset_steps: int) -> str:
    return ShortSecretTOTP(secret).at(int(clock.timestamp()) + 30 * offset_steps)


def audits(action: str) -> list[AuditRecord]:
    db.session.rollback()
    return db.session.execute(select(AuditRecord).where(AuditRecord.action == action)
                              .order_by(AuditRecord.id)).scalars().all()


def secret_row(user_id: int) -> MfaSecret:
    db.session.rollback()
    return db.session.get(MfaSecret, user_id)


def test_staff_need_mfa_and_buyers_and_sellers_do_not(people):
    needs = {who: mfa.requires_mfa(db.session.get(User, people[who]))
             for who in ("buyer", "seller", "support", "admin")}
    assert needs == {"buyer": False, "seller": False, "support": True, "admin": True}


def test_enrolment_seals_the_secret_and_shows_the_same_one_on_reload(newcomer, people, code_id):
    first = mfa.begin_enrolment(newcomer, staff_actor(people), code_id)
    again = mfa.begin_enrolment(newcomer, staff_actor(people), code_id)
    assert first.secret == again.secret and len(first.secret) == 32
    assert first.uri.startswith("otpauth://totp/Holdfast:support%40test.example?")
    assert f"secret={first.secret}" in first.uri and "issuer=Holdfast" in first.uri
    assert first.qr_data_uri.startswith("data:image/svg+xml;base64,")
    row = secret_row(newcomer)
    assert row.confirmed_at is None
    assert first.secret.encode() not in row.ciphertext  # sealed, never in the clear
    assert not mfa.is_enrolled(newcomer)


def test_a_wrong_code_does_not_confirm_enrolment_and_is_audited(newcomer, people, code_id):
    enrolment = mfa.begin_enrolment(newcomer, staff_actor(people), code_id)
    wrong = code_at(enrolment.secret, 5)
    with pytest.raises(ServiceError, match="not right"):
        mfa.confirm_enrolment(newcomer, wrong, staff_actor(people), code_id)
    assert secret_row(newcomer).confirmed_at is None
    record = audits("mfa.enrolled")[-1]
    assert (record.outcome, json.loads(record.details)["reason"]) == ("failure", "wrong code")


def test_confirming_enrolment_gives_ten_recovery_codes_stored_only_as_keyed_hashes(
        newcomer, people, code_id):
    enrolment = mfa.begin_enrolment(newcomer, staff_actor(people), code_id)
    codes = mfa.confirm_enrolment(newcomer, code_at(enrolment.secret, 0), staff_actor(people),
                                  code_id)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(len(c) == 11 and c[5] == "-" for c in codes)
    assert mfa.is_enrolled(newcomer)
    assert db.session.get(User, newcomer).mfa_enabled_at is not None
    stored = db.session.execute(select(RecoveryCode.code_hash).where(
        RecoveryCode.user_id == newcomer)).scalars().all()
    assert len(stored) == 10
    plain = {c.replace("-", "") for c in codes}
    assert not plain & set(stored)
    import hashlib

    unkeyed = {hashlib.sha256(p.encode()).hexdigest() for p in plain} | {
        hashlib.sha256(f"{newcomer}:{p}".encode()).hexdigest() for p in plain}
    assert not unkeyed & set(stored)  # a keyed hash, not a plain digest
    assert audits("mfa.enrolled")[-1].outcome == "success"
    with pytest.raises(Conflict):
        mfa.begin_enrolment(newcomer, staff_actor(people), code_id)


@pytest.mark.parametrize("offset", [-1, 0, 1])
def test_a_code_one_step_either_side_is_accepted(people, offset):
    assert mfa.verify(people["support"], code_at(TOTP_SECRET, offset),
                      staff_actor(people)) == "totp"
    record = audits("mfa.verified")[-1]
    assert (record.outcome, record.actor_id) == ("success", people["support"])


@pytest.mark.parametrize("offset", [-3, 3])
def test_a_code_further_away_is_refused_and_audited(people, offset):
    with pytest.raises(ServiceError):
        mfa.verify(people["support"], code_at(TOTP_SECRET, offset), staff_actor(people))
    record = audits("mfa.verified")[-1]
    assert (record.outcome, json.loads(record.details)["reason"]) == ("failure", "wrong code")


def test_the_same_code_is_never_accepted_twice(people):
    code = code_at(TOTP_SECRET, 0)
    mfa.verify(people["support"], code, staff_actor(people))
    with pytest.raises(ServiceError):
        mfa.verify(people["support"], code, staff_actor(people))
    assert json.loads(audits("mfa.verified")[-1].details)["reason"] == "code already used"
    # An earlier step is refused too once a later one was used.
    with pytest.raises(ServiceError):
        mfa.verify(people["support"], code_at(TOTP_SECRET, -1), staff_actor(people))
    assert mfa.verify(people["support"], code_at(TOTP_SECRET, 1), staff_actor(people)) == "totp"


def test_another_users_secret_does_not_verify(people):
    # admin has its own row sealed for admin: support's codes from another secret fail.
    other = pyotp.random_base32()
    with pytest.raises(ServiceError):
        mfa.verify(people["admin"], pyotp.TOTP(other).now(), staff_actor(people, "admin"))


def _recovery_codes(newcomer, people) -> list[str]:
    code_id = unlock(newcomer, people)
    enrolment = mfa.begin_enrolment(newcomer, staff_actor(people), code_id)
    return mfa.confirm_enrolment(newcomer, code_at(enrolment.secret, 0), staff_actor(people),
                                 code_id)


def test_a_recovery_code_works_once_in_any_case_and_spacing(newcomer, people):
    codes = _recovery_codes(newcomer, people)
    typed = " " + codes[3].upper().replace("-", " ") + " "
    assert mfa.verify(newcomer, typed, staff_actor(people)) == "recovery_code"
    assert mfa.recovery_codes_left(newcomer) == 9
    used = audits("mfa.recovery_code_used")
    assert len(used) == 1 and json.loads(used[0].details)["remaining"] == 9
    with pytest.raises(ServiceError):
        mfa.verify(newcomer, codes[3], staff_actor(people))
    assert mfa.verify(newcomer, codes[4], staff_actor(people)) == "recovery_code"


def test_recovery_codes_belong_to_their_user(newcomer, people):
    codes = _recovery_codes(newcomer, people)
    with pytest.raises(ServiceError):
        mfa.verify(people["admin"], codes[0], staff_actor(people, "admin"))
    assert mfa.recovery_codes_left(newcomer) == 10


def test_recovery_codes_survive_an_encryption_key_rotation(app, newcomer, people, monkeypatch):
    codes = _recovery_codes(newcomer, people)
    old = app.config["ENCRYPTION_KEY"]
    monkeypatch.setitem(app.config, "ENCRYPTION_KEY", "a-new-encryption-key-for-the-rotation")
    monkeypatch.setitem(app.config, "ENCRYPTION_RETIRED_KEYS", old)
    assert mfa.verify(newcomer, codes[0], staff_actor(people)) == "recovery_code"
    monkeypatch.setitem(app.config, "ENCRYPTION_RETIRED_KEYS", "")
    with pytest.raises(ServiceError):  # without the old key, its hashes no longer match
        mfa.verify(newcomer, codes[1], staff_actor(people))


def test_an_unenrolled_user_cannot_be_verified(newcomer, people):
    with pytest.raises(Conflict):
        mfa.verify(newcomer, "123456", staff_actor(people))


def test_wrong_codes_count_towards_the_lockout(app, people, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_LOCK_THRESHOLD", 3)
    for _ in range(3):
        with pytest.raises(ServiceError):
            mfa.verify(people["support"], "000000", staff_actor(people))
    with pytest.raises(LockedOut):  # even the right code is refused now
        mfa.verify(people["support"], code_at(TOTP_SECRET, 0), staff_actor(people))
    record = audits("mfa.verified")[-1]
    assert (record.outcome, json.loads(record.details)["reason"]) == ("failure", "locked")
    assert secret_row(people["support"]).last_used_step == 0


def _enrol_with_demo_secret(user_id: int) -> None:
    row = secret_row(user_id)
    from app import crypto

    row.sealed = crypto.encrypt(DEMO_TOTP_SECRET.encode(), row.associated_data())
    db.session.commit()


def test_the_demo_secret_verifies_where_demo_accounts_are_allowed(people):
    _enrol_with_demo_secret(people["support"])
    assert mfa.verify(people["support"], code_at(DEMO_TOTP_SECRET, 0),
                      staff_actor(people)) == "totp"


def test_production_refuses_the_demo_secret_and_audits_it(app, people, monkeypatch):
    _enrol_with_demo_secret(people["support"])
    monkeypatch.setitem(app.config, "DEMO_ACCOUNTS_ALLOWED", False)
    with pytest.raises(ServiceError):
        mfa.verify(people["support"], code_at(DEMO_TOTP_SECRET, 0), staff_actor(people))
    record = audits("mfa.verified")[-1]
    assert (record.outcome, json.loads(record.details)["reason"]) == (
        "failure", "demo secret refused")
    with pytest.raises(ServiceError, match="refused"):
        mfa.enrol_with_secret(people["admin"], DEMO_TOTP_SECRET, staff_actor(people))


@pytest.mark.parametrize("secret", ["JBSWY3DPEHPK3PXP", "not base32!"])
def test_enrol_with_secret_refuses_weak_or_malformed_secrets(newcomer, people, secret):
    with pytest.raises(ServiceError, match="112 bits"):
        mfa.enrol_with_secret(newcomer, secret, staff_actor(people))
    assert not mfa.is_enrolled(newcomer)


def test_enrol_with_secret_is_idempotent(newcomer, people):
    assert mfa.enrol_with_secret(newcomer, DEMO_TOTP_SECRET, staff_actor(people)) is True
    assert mfa.enrol_with_secret(newcomer, TOTP_SECRET, staff_actor(people)) is False
    assert mfa.verify(newcomer, code_at(DEMO_TOTP_SECRET, 0), staff_actor(people)) == "totp"
