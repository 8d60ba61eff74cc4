"""Admin-issued enrolment codes: issue, expiry, one use, replacement by a newer code, reset of a
staff account's two-step sign-in, new staff accounts; every action audit-logged."""
from __future__ import annotations

import hashlib
import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.clock import now
from app.extensions import db
from app.models import AuditRecord, User
from app.models.security import EnrolmentCode, MfaSecret, RecoveryCode
from app.services.audit import Actor
from app.services.errors import Conflict, NotFound, ServiceError
from app.services.security import enrolment_codes, mfa, staff
from app.services.security.throttle import LockedOut
from tests.flows import TOTP_SECRET

ORIGIN = "198.51.100.7"


def actor(people, who: str) -> Actor:
    return Actor(f"{who}@test.example", ORIGIN, people[who])


@pytest.fixture
def newcomer(app, people) -> int:
    """The support account, without two-step sign-in (as if just created)."""
    db.session.execute(MfaSecret.__table__.delete().where(
        MfaSecret.user_id == people["support"]))
    db.session.get(User, people["support"]).mfa_enabled_at = None
    db.session.commit()
    return people["support"]


def audits(action: str) -> list[AuditRecord]:
    db.session.rollback()
    return db.session.execute(select(AuditRecord).where(AuditRecord.action == action)
                              .order_by(AuditRecord.id)).scalars().all()


def code_rows(user_id: int) -> list[EnrolmentCode]:
    db.session.rollback()
    return db.session.execute(select(EnrolmentCode).where(EnrolmentCode.user_id == user_id)
                              .order_by(EnrolmentCode.id)).scalars().all()


def check(people, user_id: int, code: str) -> int:
    return enrolment_codes.check(user_id, code, actor(people, "support"))


def refusal_reason() -> str:
    return json.loads(audits("mfa.enrolment_code_checked")[-1].details)["reason"]


def enrol(people, user_id: int, code_id: int) -> list[str]:
    """Finish the enrolment the code unlocked, as the newcomer would."""
    import pyotp

    enrolment = mfa.begin_enrolment(user_id, actor(people, "support"), code_id)
    return mfa.confirm_enrolment(user_id, pyotp.TOTP(enrolment.secret).now(),
                                 actor(people, "support"), code_id)


# --- Issue ---------------------------------------------------------------------------------

def test_an_issued_code_is_shown_once_and_stored_only_as_a_keyed_hash(newcomer, people):
    before = now()
    issued = enrolment_codes.issue(newcomer, actor(people, "admin"))
    after = now()  # bounds from both sides of the call: no margin for how long it took
    assert re.fullmatch(r"([a-z2-9]{4}-){3}[a-z2-9]{4}", issued.code)
    assert before + timedelta(hours=24) <= issued.expires_at <= after + timedelta(hours=24)
    [row] = code_rows(newcomer)
    plain = issued.code.replace("-", "")
    assert plain not in row.code_hash and issued.code not in row.code_hash
    unkeyed = {hashlib.sha256(v.encode()).hexdigest()
               for v in (plain, f"{newcomer}:{plain}", f"enrol:{newcomer}:{plain}")}
    assert row.code_hash not in unkeyed and len(row.code_hash) == 64
    assert (row.issued_by, row.used_at, row.revoked_at) == (people["admin"], None, None)
    record = audits("mfa.enrolment_code_issued")[-1]
    assert (record.actor_id, record.target, record.outcome) == (
        people["admin"], f"user:{newcomer}", "success")
    assert plain not in record.details and issued.code not in record.details


def test_the_right_code_unlocks_enrolment_in_any_case_and_spacing(newcomer, people):
    issued = enrolment_codes.issue(newcomer, actor(people, "admin"))
    code_id = check(people, newcomer, " " + issued.code.upper().replace("-", " ") + " ")
    assert code_id == code_rows(newcomer)[0].id
    record = audits("mfa.enrolment_code_checked")[-1]
    assert (record.outcome, record.actor_id) == ("success", newcomer)
    assert mfa.begin_enrolment(newcomer, actor(people, "support"), code_id).secret


def test_enrolment_never_starts_without_a_usable_code(newcomer, people):
    with pytest.raises(Conflict, match="no longer valid"):
        mfa.begin_enrolment(newcomer, actor(people, "support"), None)
    issued = enrolment_codes.issue(newcomer, actor(people, "admin"))
    other_id = check(people, newcomer, issued.code)
    with pytest.raises(Conflict):  # a code id of another account unlocks nothing
        mfa.begin_enrolment(people["admin"], actor(people, "admin"), other_id)
    assert db.session.get(MfaSecret, people["admin"]).confirmed_at is not None


def test_a_code_is_bound_to_its_account(newcomer, people):
    issued = enrolment_codes.issue(newcomer, actor(people, "admin"))
    staff.reset_mfa(people["admin"], actor(people, "support"))  # a second unenrolled account
    with pytest.raises(ServiceError, match="not valid"):
        enrolment_codes.check(people["admin"], issued.code, actor(people, "admin"))
    assert refusal_reason() == "wrong code"


@pytest.mark.parametrize("who", ["buyer", "seller"])
def test_codes_are_only_for_staff_accounts(people, who):
    with pytest.raises(NotFound):
        enrolment_codes.issue(people[who], actor(people, "admin"))
    assert code_rows(people[who]) == []
    record = audits("mfa.enrolment_code_issued")[-1]
    assert (record.outcome, record.actor_id, record.target) == (
        "failure", people["admin"], f"user:{people[who]}")


def test_an_enrolled_account_gets_no_code_until_it_is_reset(people):
    with pytest.raises(Conflict, match="reset it first"):
        enrolment_codes.issue(people["support"], actor(people, "admin"))
    assert audits("mfa.enrolment_code_issued")[-1].outcome == "failure"
    staff.reset_mfa(people["support"], actor(people, "admin"))
    assert enrolment_codes.issue(people["support"], actor(people, "admin")).code


# --- Expiry, one use, replacement ----------------------------------------------------------

def test_an_expired_code_is_refused_and_counts_as_a_failed_login(app, newcomer, people,
                                                                 monkeypatch):
    issued = enrolment_codes.issue(newcomer, actor(people, "admin"))
    row = code_rows(newcomer)[0]
    row.expires_at = now() - timedelta(seconds=1)
    db.session.commit()
    assert enrolment_codes.usable_code_expiry(newcomer) is None
    monkeypatch.setitem(app.config, "LOGIN_LOCK_THRESHOLD", 2)
    for _ in range(2):
        with pytest.raises(ServiceError, match="not valid"):
            check(people, newcomer, issued.code)
        assert refusal_reason() == "code expired"
    with pytest.raises(LockedOut):
        check(people, newcomer, issued.code)
    assert refusal_reason() == "locked"


def test_an_unlocking_code_that_expires_before_confirmation_stops_the_enrolment(newcomer,
                                                                                people):
    issued = enrolment_codes.issue(newcomer, actor(people, "admin"))
    code_id = check(people, newcomer, issued.code)
    mfa.begin_enrolment(newcomer, actor(people, "support"), code_id)
    row = code_rows(newcomer)[0]
    row.expires_at = now() - timedelta(seconds=1)
    db.session.commit()
    with pytest.raises(Conflict, match="no longer valid"):
        mfa.confirm_enrolment(newcomer, "123456", actor(people, "support"), code_id)
    assert not mfa.is_enrolled(newcomer)


def test_enrolment_spends_the_code_and_it_is_never_accepted_again(newcomer, people):
    issued = enrolment_codes.issue(newcomer, actor(people, "admin"))
    code_id = check(people, newcomer, issued.code)
    assert len(enrol(people, newcomer, code_id)) == 10
    assert code_rows(newcomer)[0].used_at is not None
    record = audits("mfa.enrolled")[-1]
    assert json.loads(record.details)["enrolment_code_id"] == code_id
    staff.reset_mfa(newcomer, actor(people, "admin"))  # even once enrolment is open again
    with pytest.raises(ServiceError):
        check(people, newcomer, issued.code)
    assert refusal_reason() == "code already used"
    with pytest.raises(Conflict):
        mfa.begin_enrolment(newcomer, actor(people, "support"), code_id)


def test_a_newer_code_replaces_the_older_one_and_its_unconfirmed_secret(newcomer, people):
    first = enrolment_codes.issue(newcomer, actor(people, "admin"))
    first_id = check(people, newcomer, first.code)
    seen = mfa.begin_enrolment(newcomer, actor(people, "support"), first_id).secret
    second = enrolment_codes.issue(newcomer, actor(people, "admin"))
    assert first.code != second.code
    old, new = code_rows(newcomer)
    assert old.revoked_at is not None and new.revoked_at is None
    assert json.loads(audits("mfa.enrolment_code_issued")[-1].details)["replaced"] == 1
    assert db.session.get(MfaSecret, newcomer) is None  # whoever saw the old QR code is out
    with pytest.raises(Conflict):
        mfa.begin_enrolment(newcomer, actor(people, "support"), first_id)
    with pytest.raises(ServiceError):
        check(people, newcomer, first.code)
    assert refusal_reason() == "code revoked"
    second_id = check(people, newcomer, second.code)
    assert mfa.begin_enrolment(newcomer, actor(people, "support"), second_id).secret != seen


# --- Reset ---------------------------------------------------------------------------------

def test_reset_removes_the_secret_recovery_codes_and_codes_and_logs_the_account_out(
        newcomer, people):
    enrol(people, newcomer, check(people, newcomer,
                                  enrolment_codes.issue(newcomer, actor(people, "admin")).code))
    version = db.session.get(User, newcomer).session_version
    staff.reset_mfa(newcomer, actor(people, "admin"))
    db.session.rollback()
    user = db.session.get(User, newcomer)
    assert not mfa.is_enrolled(newcomer) and user.mfa_enabled_at is None
    assert db.session.get(MfaSecret, newcomer) is None
    assert db.session.execute(select(RecoveryCode).where(
        RecoveryCode.user_id == newcomer)).first() is None
    assert user.session_version == version + 1
    record = audits("mfa.reset")[-1]
    assert (record.actor_id, record.target, record.outcome) == (
        people["admin"], f"user:{newcomer}", "success")
    assert json.loads(record.details)["recovery_codes"] == 10
    with pytest.raises(Conflict):
        mfa.verify(newcomer, "123456", actor(people, "support"))


def test_reset_revokes_a_waiting_code(newcomer, people):
    issued = enrolment_codes.issue(newcomer, actor(people, "admin"))
    staff.reset_mfa(newcomer, actor(people, "admin"))
    assert code_rows(newcomer)[0].revoked_at is not None
    with pytest.raises(ServiceError):
        check(people, newcomer, issued.code)


def test_nobody_resets_their_own_two_step_sign_in(people):
    with pytest.raises(Conflict, match="your own"):
        staff.reset_mfa(people["admin"], actor(people, "admin"))
    assert mfa.is_enrolled(people["admin"])
    record = audits("mfa.reset")[-1]
    assert (record.outcome, record.target) == ("failure", f"user:{people['admin']}")


def test_reset_is_only_for_staff_accounts(people):
    with pytest.raises(NotFound):
        staff.reset_mfa(people["buyer"], actor(people, "admin"))
    assert audits("mfa.reset")[-1].outcome == "failure"


# --- Staff accounts ------------------------------------------------------------------------

def test_a_new_staff_account_gets_a_temporary_password_and_no_second_factor(people):
    user_id, password = staff.create_staff(" New.Support@Test.example ", "Nia", "support",
                                           actor(people, "admin"))
    user = db.session.get(User, user_id)
    assert (user.email, user.role, user.display_name) == ("new.support@test.example",
                                                          "support", "Nia")
    assert len(password) >= 12 and user.check_password(password)
    assert password not in user.password_hash
    assert user.must_change_password  # a password someone else has seen (PCI DSS 8.3.5)
    assert not mfa.is_enrolled(user_id)
    record = audits("account.created")[-1]
    assert (record.actor_id, record.target) == (people["admin"], f"user:{user_id}")
    assert password not in record.details
    assert staff.find_staff_id("NEW.support@test.example") == user_id


@pytest.mark.parametrize(("email", "role", "error"), [
    ("x@test.example", "buyer", ServiceError), ("support@test.example", "support", Conflict)])
def test_staff_accounts_need_a_staff_role_and_a_new_email(people, email, role, error):
    with pytest.raises(error):
        staff.create_staff(email, "X", role, actor(people, "admin"))
    assert audits("account.created")[-1].outcome == "failure"


def test_the_staff_list_shows_each_accounts_state(newcomer, people):
    issued = enrolment_codes.issue(newcomer, actor(people, "admin"))
    members = {m.email: m for m in staff.list_staff()}
    assert set(members) == {"support@test.example", "admin@test.example"}
    assert members["admin@test.example"].mfa_enabled_at is not None
    support = members["support@test.example"]
    assert support.mfa_enabled_at is None and support.code_expires_at == issued.expires_at


def test_the_demo_style_preset_enrolment_needs_no_code(newcomer, people):
    # Seeding (flask seed-demo, the tests' people) enrols with a given secret directly.
    assert mfa.enrol_with_secret(newcomer, TOTP_SECRET, actor(people, "admin")) is True
    assert mfa.is_enrolled(newcomer) and code_rows(newcomer) == []
