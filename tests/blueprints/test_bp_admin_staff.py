"""/admin/staff: only admins with a fresh code manage staff accounts; an enrolment code is shown
once and lets the account set up two-step sign-in through the login pages; resets and new
accounts are audited; nobody resets their own."""
from __future__ import annotations

import json
import re

import pyotp
import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditRecord, User
from app.models.security import EnrolmentCode, MfaSecret
from app.services.security import mfa
from tests.flows import PASSWORD, login


@pytest.fixture
def admin(app, people):
    client = app.test_client()
    login(client, "admin")
    return client


def html(response) -> str:
    return response.get_data(as_text=True)


def audits(action: str) -> list[AuditRecord]:
    db.session.rollback()
    return db.session.execute(select(AuditRecord).where(AuditRecord.action == action)
                              .order_by(AuditRecord.id)).scalars().all()


def codes_issued() -> int:
    db.session.rollback()
    return db.session.execute(select(func.count()).select_from(EnrolmentCode)).scalar_one()


def shown_code(response) -> str:
    return re.search(r'<code id="enrolment-code" class="mono">([a-z2-9-]{19})</code>',
                     html(response)).group(1)


def age_mfa(client, seconds: float) -> None:
    with client.session_transaction() as session:
        session["mfa_at"] -= seconds


# --- Who may ------------------------------------------------------------------------------

@pytest.mark.parametrize(("who", "status"), [("buyer", 403), ("seller", 403), ("support", 403)])
def test_only_admins_reach_the_staff_page(app, people, who, status):
    client = app.test_client()
    login(client, who)
    assert client.get("/admin/staff").status_code == status


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get("/admin/staff")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_support_cannot_issue_codes_reset_or_create_accounts(app, people):
    client = app.test_client()
    login(client, "support")
    posts = {"/admin/staff/enrolment-code": {"user_id": people["admin"]},
             "/admin/staff/reset-mfa": {"user_id": people["admin"]},
             "/admin/staff": {"email": "x@test.example", "display_name": "X", "role": "admin"}}
    for path, form in posts.items():
        assert client.post(path, data=form).status_code == 403, path
    assert codes_issued() == 0 and mfa.is_enrolled(people["admin"])
    assert db.session.execute(select(User).where(User.email == "x@test.example")).first() is None
    assert audits("mfa.enrolment_code_issued") == audits("mfa.reset") == []


def test_a_stale_code_is_asked_again_before_any_staff_action(admin, people):
    age_mfa(admin, 301)
    response = admin.get("/admin/staff")
    assert response.status_code == 303
    assert response.headers["Location"] == "/account/code?next=/admin/staff"
    response = admin.post("/admin/staff/reset-mfa", data={"user_id": people["support"]})
    assert response.status_code == 303 and response.headers["Location"] == "/account/code"
    assert mfa.is_enrolled(people["support"]) and audits("mfa.reset") == []


# --- The page and its actions --------------------------------------------------------------

def test_the_page_lists_staff_with_their_two_step_state(admin, people):
    page = html(admin.get("/admin/staff"))
    assert "support@test.example" in page and "admin@test.example" in page
    assert "buyer@test.example" not in page and "seller@test.example" not in page
    support_row = re.search(rf'<tr id="staff-{people["support"]}">(.*?)</tr>', page, re.DOTALL)
    assert "on since" in support_row.group(1) and "Reset two-step sign-in" in support_row.group(1)
    own_row = re.search(rf'<tr id="staff-{people["admin"]}">(.*?)</tr>', page, re.DOTALL).group(1)
    assert "Reset" not in own_row  # not for yourself


def test_a_reset_then_an_enrolment_code_lets_the_person_enrol_again(admin, app, people):
    response = admin.post("/admin/staff/reset-mfa", data={"user_id": people["support"]})
    assert response.status_code == 303 and response.headers["Location"] == "/admin/staff"
    assert not mfa.is_enrolled(people["support"])
    record = audits("mfa.reset")[-1]
    assert (record.actor_id, record.target, record.outcome) == (
        people["admin"], f"user:{people['support']}", "success")

    response = admin.post("/admin/staff/enrolment-code", data={"user_id": people["support"]})
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    code = shown_code(response)
    record = audits("mfa.enrolment_code_issued")[-1]
    assert (record.actor_id, record.target, record.outcome) == (
        people["admin"], f"user:{people['support']}", "success")
    page = html(admin.get("/admin/staff"))
    assert code not in page and "code waiting until" in page  # shown once only

    person = app.test_client()
    person.post("/login", data={"email": "support@test.example", "password": PASSWORD})
    assert person.post("/login/code/setup", data={"code": code}).status_code == 303
    secret = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>',
                       html(person.get("/login/code/setup"))).group(1)
    response = person.post("/login/code/setup", data={"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 200 and "Two-step sign-in is on" in html(response)
    assert person.get("/support/payments").status_code == 200
    assert "on since" in html(admin.get("/admin/staff"))


def test_a_reset_logs_the_person_out_everywhere(admin, app, people):
    support = app.test_client()
    login(support, "support")
    assert support.get("/support/payments").status_code == 200
    admin.post("/admin/staff/reset-mfa", data={"user_id": people["support"]})
    assert support.get("/support/payments").status_code == 302


def test_an_admin_cannot_reset_their_own_two_step_sign_in(admin, people):
    response = admin.post("/admin/staff/reset-mfa", data={"user_id": people["admin"]},
                          follow_redirects=True)
    assert "You cannot reset your own two-step sign-in" in html(response)
    assert mfa.is_enrolled(people["admin"])
    record = audits("mfa.reset")[-1]
    assert (record.outcome, record.actor_id) == ("failure", people["admin"])


def test_no_code_for_an_enrolled_account_or_a_buyer(admin, people):
    for who in ("support", "buyer"):
        response = admin.post("/admin/staff/enrolment-code", data={"user_id": people[who]},
                              follow_redirects=True)
        assert 'id="enrolment-code"' not in html(response)
    assert codes_issued() == 0
    assert [r.outcome for r in audits("mfa.enrolment_code_issued")] == ["failure", "failure"]


def test_a_new_staff_account_logs_in_only_after_its_enrolment_code(admin, app, people):
    response = admin.post("/admin/staff", data={"email": "nia@test.example",
                                                "display_name": "Nia", "role": "support"})
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    password = re.search(r'<code id="temporary-password">([\w-]+)</code>',
                         html(response)).group(1)
    assert password not in html(admin.get("/admin/staff"))
    user = db.session.execute(select(User).where(User.email == "nia@test.example")).scalar_one()
    assert user.role == "support"
    assert json.loads(audits("account.created")[-1].details)["role"] == "support"

    nia = app.test_client()
    response = nia.post("/login", data={"email": "nia@test.example", "password": password})
    assert response.headers["Location"] == "/login/code/setup"
    assert 'id="ask-an-admin"' in html(nia.get("/login/code/setup"))
    code = shown_code(admin.post("/admin/staff/enrolment-code", data={"user_id": user.id}))
    assert nia.post("/login/code/setup", data={"code": code}).status_code == 303
    page = html(nia.get("/login/code/setup"))
    assert db.session.get(MfaSecret, user.id) is not None
    # Signed in with the temporary password: the first stop is choosing one's own.
    secret = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', page).group(1)
    response = nia.post("/login/code/setup", data={"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 200 and "recovery-codes" in html(response)
    assert user.must_change_password
    assert nia.get("/support/payments").headers["Location"] == "/account/password"


def test_staff_accounts_are_support_or_admin_and_unique(admin, people):
    response = admin.post("/admin/staff", data={"email": "b@test.example", "display_name": "B",
                                                "role": "buyer"})
    assert response.status_code == 400
    response = admin.post("/admin/staff", data={"email": "support@test.example",
                                                "display_name": "S", "role": "support"})
    assert response.status_code == 409 and "already exists" in html(response)
    assert 'id="temporary-password"' not in html(response)
