"""Sessions: new at login, staff idle and absolute timeouts, password changes end the others."""
from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditRecord, User
from tests.flows import PASSWORD, login, next_code

COOKIE = "holdfast_session"
TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
NEW_PASSWORD = "a-brand-new-passphrase"


def html(response) -> str:
    return response.get_data(as_text=True)


def shift(client, **seconds_back: float) -> None:
    """Move session timestamps into the past, as if time had passed."""
    with client.session_transaction() as session:
        for key, seconds in seconds_back.items():
            session[key] -= seconds


# --- A new session at login ----------------------------------------------------------------

@pytest.mark.parametrize("who", ["buyer", "support"])
def test_login_starts_a_brand_new_session(client, people, who):
    client.get("/login")
    with client.session_transaction() as session:
        session["planted"] = "by an attacker before login"
    before = client.get_cookie(COOKIE).value
    login(client, who)
    with client.session_transaction() as session:
        assert "planted" not in session and "_user_id" in session
        assert session["auth_at"] > 0 and session["seen_at"] > 0
    assert client.get_cookie(COOKIE).value != before


# --- Staff timeouts ------------------------------------------------------------------------

@pytest.mark.parametrize("who", ["support", "admin"])
def test_staff_are_logged_out_after_fifteen_idle_minutes(client, people, who):
    login(client, who)
    shift(client, seen_at=15 * 60 + 1)
    response = client.get("/support/payments")
    assert response.status_code == 303
    assert response.headers["Location"] == "/login?next=/support/payments"
    page = html(client.get("/login"))
    assert "logged out after 15 minutes without activity" in page
    assert client.get("/support/payments").status_code == 302  # the session is gone


def test_staff_activity_keeps_the_session_alive(client, people):
    login(client, "support")
    for _ in range(3):  # three requests, each 14 minutes after the previous one
        shift(client, seen_at=14 * 60, auth_at=14 * 60)
        assert client.get("/support/payments").status_code == 200


def test_staff_sessions_end_after_twelve_hours_even_when_active(client, people):
    login(client, "support")
    shift(client, auth_at=12 * 3600 + 1)
    response = client.get("/support/payments")
    assert response.status_code == 303 and response.headers["Location"].startswith("/login")
    assert "at most 12 hours" in html(client.get("/login"))


def test_a_staff_post_after_the_timeout_changes_nothing(client, people):
    login(client, "support")
    shift(client, seen_at=15 * 60 + 1)
    response = client.post("/support/escrow/1/release")
    assert response.status_code == 303 and response.headers["Location"] == "/login"


def test_a_staff_session_without_timestamps_is_refused(client, people):
    login(client, "support")
    with client.session_transaction() as session:
        del session["auth_at"]
    assert client.get("/support/payments").status_code == 303


@pytest.mark.parametrize("who", ["buyer", "seller"])
def test_buyers_and_sellers_keep_the_normal_lifetime(client, people, who):
    login(client, who)
    shift(client, seen_at=3 * 3600)
    assert client.get("/orders" if who == "buyer" else "/seller").status_code == 200


# --- Password changes ----------------------------------------------------------------------

def change(client, current=PASSWORD, new=NEW_PASSWORD, repeat=None):
    return client.post("/account/password", data={
        "current_password": current, "new_password": new,
        "repeat_password": new if repeat is None else repeat})


def test_the_change_password_page_has_labelled_fields(client, people):
    login(client, "buyer")
    page = html(client.get("/account/password"))
    for label in ("Current password", "New password", "New password again"):
        assert f">{label}</label>" in page
    assert "At least 10 characters." in page


def test_changing_the_password_ends_every_other_session_but_this_one(app, people):
    laptop, phone = app.test_client(), app.test_client()
    login(laptop, "buyer")
    login(phone, "buyer")
    stolen = phone.get_cookie(COOKIE).value
    response = change(laptop)
    assert response.status_code == 303
    assert laptop.get("/cart").status_code == 200  # this session goes on
    assert phone.get("/cart").status_code == 302
    replay = app.test_client()
    replay.set_cookie(COOKIE, stolen)
    assert replay.get("/cart").status_code == 302
    db.session.expire_all()
    user = db.session.get(User, people["buyer"])
    assert user.password_changed_at is not None and user.session_version == 2
    assert user.check_password(NEW_PASSWORD) and not user.check_password(PASSWORD)
    record = db.session.execute(select(AuditRecord).where(
        AuditRecord.action == "auth.password_changed")).scalar_one()
    assert (record.outcome, record.actor_id) == ("success", people["buyer"])
    assert PASSWORD not in record.details and NEW_PASSWORD not in record.details


def test_staff_keep_their_code_step_across_a_password_change(client, people):
    login(client, "admin")
    assert change(client).status_code == 303
    assert client.get("/support/audit").status_code == 200


def test_a_wrong_current_password_changes_nothing_and_is_audited(client, people):
    login(client, "buyer")
    response = change(client, current="not-my-password")
    assert response.status_code == 400
    assert "current password is not correct" in html(response)
    db.session.expire_all()
    user = db.session.get(User, people["buyer"])
    assert user.check_password(PASSWORD) and user.session_version == 1
    record = db.session.execute(select(AuditRecord).where(
        AuditRecord.action == "auth.password_changed")).scalar_one()
    assert record.outcome == "failure"
    assert json.loads(record.details)["reason"] == "wrong current password"


@pytest.mark.parametrize(("who", "password", "ok"), [
    ("buyer", "ten-chars!", True), ("buyer", "nine-char", False),
    ("support", "eleven-char", False), ("support", "twelve-chars", True),
    ("admin", "eleven-char", False),
])
def test_staff_passwords_need_twelve_characters(client, people, who, password, ok):
    login(client, who)
    response = change(client, new=password)
    assert response.status_code == (303 if ok else 400)
    if not ok:
        minimum = 12 if who != "buyer" else 10
        assert f"at least {minimum} characters" in html(response)
    db.session.expire_all()
    assert db.session.get(User, people[who]).check_password(password) is ok


def test_the_new_password_must_be_typed_twice_alike_and_differ(client, people):
    login(client, "buyer")
    assert change(client, repeat="something-else-x").status_code == 400
    response = change(client, new=PASSWORD)
    assert response.status_code == 400 and "differs from the current one" in html(response)
    db.session.expire_all()
    assert db.session.get(User, people["buyer"]).session_version == 1


def test_guessing_the_current_password_counts_towards_the_lockout(app, client, people,
                                                                 monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_LOCK_THRESHOLD", 3)
    login(client, "buyer")
    for _ in range(3):
        assert change(client, current="guess-guess-guess").status_code == 400
    response = change(client)
    assert response.status_code == 429 and "Retry-After" in response.headers
    db.session.expire_all()
    assert db.session.get(User, people["buyer"]).check_password(PASSWORD)


def test_anonymous_cannot_change_a_password(client, people):
    response = change(client)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


# --- CSRF on the new forms -----------------------------------------------------------------

@pytest.fixture
def csrf_on(app, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)


def test_the_code_step_needs_the_csrf_token(client, people, csrf_on):
    token = TOKEN.search(html(client.get("/login"))).group(1)
    client.post("/login", data={"email": "support@test.example", "password": PASSWORD,
                                "csrf_token": token})
    code = next_code(people["support"])
    assert client.post("/login/code", data={"code": code}).status_code == 400
    token = TOKEN.search(html(client.get("/login/code"))).group(1)
    response = client.post("/login/code", data={"code": code, "csrf_token": token})
    assert response.status_code == 303 and response.headers["Location"] == "/support/payments"


@pytest.mark.parametrize("path", ["/account/password", "/account/code"])
def test_account_forms_need_the_csrf_token(app, client, people, path, monkeypatch):
    login(client, "support")  # logged in without CSRF, then production rules apply
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    response = client.post(path, data={"current_password": PASSWORD, "new_password": NEW_PASSWORD,
                                       "repeat_password": NEW_PASSWORD, "code": "123456"})
    assert response.status_code == 400
    db.session.expire_all()
    assert db.session.get(User, people["support"]).check_password(PASSWORD)
