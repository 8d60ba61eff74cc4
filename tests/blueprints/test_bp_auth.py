"""Log in, sign up, log out: what a person sees and what the server remembers."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditRecord, User
from tests.flows import PASSWORD, login, next_code

GENERIC_FAILURE = "That email and password do not match an account."
COOKIE = "holdfast_session"


def _users() -> int:
    return db.session.execute(select(func.count()).select_from(User)).scalar()


def test_login_form_has_labelled_fields(client):
    response = client.get("/login")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert '<label for="email"' in html and ">Email<" in html
    assert '<label for="password"' in html and ">Password<" in html
    assert 'type="password"' in html


@pytest.mark.parametrize(("who", "home"), [
    ("buyer", "/"), ("seller", "/seller"), ("support", "/support/payments"),
    ("admin", "/support/payments"),
])
def test_login_sends_each_role_home(client, people, who, home):
    response = client.post("/login", data={"email": f"{who}@test.example", "password": PASSWORD})
    assert response.status_code == 303
    if who in ("support", "admin"):  # staff type their authentication code first
        assert response.headers["Location"] == "/login/code"
        response = client.post("/login/code", data={"code": next_code(people[who])})
        assert response.status_code == 303
    assert response.headers["Location"] == home


def test_login_ignores_email_case_and_spaces(client, people):
    response = client.post("/login", data={"email": "  Buyer@Test.Example ",
                                           "password": PASSWORD})
    assert response.status_code == 303


@pytest.mark.parametrize("email", ["buyer@test.example", "nobody@test.example"])
def test_failed_login_is_generic_and_audited(client, people, email):
    response = client.post("/login", data={"email": email, "password": "wrong-password-1"})
    assert response.status_code == 401
    html = response.get_data(as_text=True)
    assert GENERIC_FAILURE in html
    assert "no such" not in html.lower() and "wrong password" not in html.lower()
    record = db.session.execute(select(AuditRecord).order_by(AuditRecord.id.desc())
                                .limit(1)).scalar_one()
    assert (record.action, record.outcome, record.actor) == ("auth.login", "failure", email)
    assert client.get("/cart").status_code == 302  # still anonymous


def test_successful_login_is_audited(client, people):
    login(client, "buyer")
    record = db.session.execute(select(AuditRecord).order_by(AuditRecord.id.desc())
                                .limit(1)).scalar_one()
    assert (record.action, record.outcome, record.actor_id) == ("auth.login", "success",
                                                                people["buyer"])


@pytest.mark.parametrize(("role", "home"), [("buyer", "/"), ("seller", "/seller")])
def test_signup_creates_a_logged_in_buyer_or_seller(client, app, role, home):
    response = client.post("/signup", data={
        "display_name": "New Person", "email": f"New.{role}@test.example",
        "password": "a-long-enough-password", "role": role})
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    assert response.headers["Location"] == home
    user = db.session.execute(select(User).where(User.email == f"new.{role}@test.example")
                              ).scalar_one()
    assert user.role == role
    assert user.password_hash != "a-long-enough-password"
    assert client.get(home).status_code == 200  # logged in as the new account


@pytest.mark.parametrize("role", ["support", "admin", "superuser"])
def test_signup_refuses_staff_roles(client, app, role):
    response = client.post("/signup", data={
        "display_name": "Sneaky", "email": "sneaky@test.example",
        "password": "a-long-enough-password", "role": role})
    assert response.status_code == 400
    assert _users() == 0


def test_register_service_refuses_staff_roles_even_without_the_form(app):
    from app.services.audit import Actor
    from app.services.errors import ServiceError
    from app.services.security import accounts

    with pytest.raises(ServiceError, match="buyer or a seller"):
        accounts.register("staff@test.example", "a-long-enough-password", "Staff", "admin",
                          Actor("anonymous", "127.0.0.1"))
    assert _users() == 0


@pytest.mark.parametrize("email", ["buyer@test.example", "BUYER@test.example"])
def test_signup_refuses_a_taken_email(client, people, email):
    before = _users()
    response = client.post("/signup", data={
        "display_name": "Copy", "email": email, "password": "a-long-enough-password",
        "role": "buyer"})
    assert response.status_code == 400
    assert "already exists" in response.get_data(as_text=True)
    assert _users() == before


def test_signup_refuses_a_short_password(client, app):
    response = client.post("/signup", data={
        "display_name": "Short", "email": "short@test.example", "password": "123456789",
        "role": "buyer"})
    assert response.status_code == 400
    assert _users() == 0


def test_logout_is_post_only(client, people):
    login(client, "buyer")
    assert client.get("/logout").status_code == 405
    assert client.get("/cart").status_code == 200  # the GET did not log anyone out


def test_logout_invalidates_the_old_session_cookie_on_the_server(app, people):
    client = app.test_client()
    login(client, "buyer")
    stolen = client.get_cookie(COOKIE).value
    assert client.get("/cart").status_code == 200

    response = client.post("/logout")
    assert response.status_code == 303
    assert db.session.get(User, people["buyer"]).session_version == 2

    replay = app.test_client()
    replay.set_cookie(COOKIE, stolen)
    response = replay.get("/cart")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_logout_ends_every_other_session_of_the_user(app, people):
    laptop, phone = app.test_client(), app.test_client()
    login(laptop, "buyer")
    login(phone, "buyer")
    laptop.post("/logout")
    assert phone.get("/cart").status_code == 302

