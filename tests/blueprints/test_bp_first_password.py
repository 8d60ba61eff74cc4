"""First use of an admin-issued temporary password (PCI DSS 8.3.5/8.3.6): a new staff account
sets up two-step sign-in, then reaches nothing but the change-password page and logout until it
has chosen its own password, which must differ from the temporary one and meet the policy."""
from __future__ import annotations

import json
import re

import pyotp
import pytest
from sqlalchemy import select

from app.auth_session import FIRST_PASSWORD_MESSAGE
from app.extensions import db
from app.models import AuditRecord, User
from app.services.audit import Actor
from app.services.security import enrolment_codes, staff
from tests.flows import PASSWORD, login

NEW_PASSWORD = "my-own-staff-passphrase-7"
EMAIL = "nia@test.example"


def html(response) -> str:
    return response.get_data(as_text=True)


def last_audit(action: str) -> AuditRecord:
    db.session.rollback()
    return db.session.execute(select(AuditRecord).where(AuditRecord.action == action)
                              .order_by(AuditRecord.id.desc()).limit(1)).scalar_one()


def flagged(user_id: int) -> bool:
    db.session.rollback()
    return db.session.get(User, user_id).must_change_password


def change(client, current: str, new: str, repeat: str | None = None):
    return client.post("/account/password", data={
        "current_password": current, "new_password": new, "repeat_password": repeat or new})


@pytest.fixture
def newcomer(app, people):
    """A support account an admin just created, signed in through enrolment code, QR code and
    recovery codes: (client, user id, temporary password)."""
    admin = Actor("admin@test.example", "127.0.0.1", people["admin"])
    user_id, temporary = staff.create_staff(EMAIL, "Nia", "support", admin)
    code = enrolment_codes.issue(user_id, admin).code
    client = app.test_client()
    response = client.post("/login", data={"email": EMAIL, "password": temporary})
    assert response.headers["Location"] == "/login/code/setup"
    assert client.post("/login/code/setup", data={"code": code}).status_code == 303
    page = html(client.get("/login/code/setup"))
    secret = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', page).group(1)
    response = client.post("/login/code/setup", data={"code": pyotp.TOTP(secret).now()})
    # The recovery codes are shown once, on this very response: the check must not eat them.
    assert response.status_code == 200
    assert len(re.findall(r"<li><code>[a-z2-9]{5}-[a-z2-9]{5}</code></li>", html(response))) == 10
    return client, user_id, temporary


def test_a_created_staff_account_is_flagged_and_ordinary_accounts_are_not(app, people):
    user_id, _ = staff.create_staff(EMAIL, "Nia", "admin",
                                    Actor("admin@test.example", "127.0.0.1", people["admin"]))
    assert flagged(user_id)
    assert json.loads(last_audit("account.created").details)["temporary_password"] is True
    assert not any(flagged(people[who]) for who in ("buyer", "seller", "support", "admin"))


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/"), ("GET", "/support/payments"), ("GET", "/support/audit"),
    ("GET", "/admin/staff"),  # another role's page: the password comes before the 403
    ("GET", "/account/code"), ("GET", "/login"), ("GET", "/no-such-page"),
    ("POST", "/account/recovery-codes"), ("POST", "/admin/staff"),
])
def test_every_other_page_sends_the_newcomer_to_change_the_password(newcomer, method, path):
    client, user_id, _ = newcomer
    response = client.open(path, method=method)
    assert response.status_code == 303, (path, response.status_code)
    assert response.headers["Location"] == "/account/password"
    page = html(client.get("/account/password"))
    assert FIRST_PASSWORD_MESSAGE in page and 'id="first-use-password"' in page
    assert "Make new recovery codes" not in page  # a form that would only bounce
    assert flagged(user_id)


@pytest.mark.parametrize("headers", [{"Accept": "application/json"}, {"HX-Request": "true"}])
def test_json_and_htmx_clients_get_403_naming_the_reason(newcomer, headers):
    client, _, _ = newcomer
    response = client.get("/support/payments", headers=headers)
    assert response.status_code == 403
    assert response.json["error"]["reason"] == "password_change_required"
    assert response.json["error"]["message"] == FIRST_PASSWORD_MESSAGE


def test_static_files_and_logout_still_work(newcomer):
    client, user_id, _ = newcomer
    assert client.get("/static/css/app.css").status_code == 200
    response = client.post("/logout")
    assert response.status_code == 303 and response.headers["Location"] == "/"
    assert client.get("/account/password").headers["Location"].startswith("/login")
    assert flagged(user_id)  # logging out does not excuse the change


@pytest.mark.parametrize(("new", "message"), [
    (None, "differs from the current one"),  # the temporary password itself
    ("short-pass1", "at least 12 characters"),  # the staff minimum (PCI DSS 8.3.6)
])
def test_the_temporary_password_again_or_a_weak_one_is_refused(newcomer, new, message):
    client, user_id, temporary = newcomer
    response = change(client, temporary, new or temporary)
    assert response.status_code == 400 and message in html(response)
    assert flagged(user_id)
    assert client.get("/support/payments").status_code == 303


def test_a_wrong_current_password_changes_nothing(newcomer):
    client, user_id, _ = newcomer
    response = change(client, "not-the-temporary-one", NEW_PASSWORD)
    assert response.status_code == 400 and "not correct" in html(response)
    assert flagged(user_id) and last_audit("auth.password_changed").outcome == "failure"


def test_after_the_change_the_account_works_normally(newcomer, app):
    client, user_id, temporary = newcomer
    response = change(client, temporary, NEW_PASSWORD)
    assert response.status_code == 303 and response.headers["Location"] == "/support/payments"
    assert not flagged(user_id)
    assert client.get("/support/payments").status_code == 200
    page = html(client.get("/account/password"))
    assert 'id="first-use-password"' not in page and "Make new recovery codes" in page
    record = last_audit("auth.password_changed")
    details = json.loads(record.details)
    assert (record.outcome, record.actor_id) == ("success", user_id)
    assert details["first_use"] is True and "first-use" in details["reason"]
    assert temporary not in record.details and NEW_PASSWORD not in record.details

    # The temporary password is dead; the new one signs in (to the code step, as staff do).
    other = app.test_client()
    assert other.post("/login", data={"email": EMAIL, "password": temporary}).status_code == 401
    response = other.post("/login", data={"email": EMAIL, "password": NEW_PASSWORD})
    assert response.headers["Location"] == "/login/code"


def test_a_later_ordinary_change_is_not_called_first_use(client, people):
    login(client, "buyer")
    assert change(client, PASSWORD, NEW_PASSWORD).status_code == 303
    assert "first_use" not in json.loads(last_audit("auth.password_changed").details)
    assert client.get("/orders").status_code == 200
