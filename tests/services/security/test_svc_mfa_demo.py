"""The demo staff accounts come enrolled with the published TOTP secret, in development only."""
from __future__ import annotations

from pathlib import Path

import pyotp
import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.launcher import banner
from app.models import User
from app.models.security import MfaSecret
from app.services import demo
from app.services.errors import ServiceError
from app.services.security import mfa
from config import DEMO_PASSWORD, DEMO_TOTP_SECRET

README = Path(__file__).resolve().parents[3] / "README.md"


class DemoTOTP(pyotp.TOTP):
    min_secret_length_bits = 80  # the demo secret is short; it protects nothing


def user_id(email: str) -> int:
    return db.session.execute(select(User.id).where(User.email == email)).scalar_one()


def test_seed_enrols_support_and_admin_with_the_demo_secret_once(app):
    created = demo.seed()
    assert "two-step sign-in for support@demo.test (TOTP secret HOLDFASTDEMOTOTP)" in created
    assert "two-step sign-in for admin@demo.test (TOTP secret HOLDFASTDEMOTOTP)" in created
    enrolled = {db.session.get(User, row.user_id).email for row in
                db.session.execute(select(MfaSecret)).scalars()}
    assert enrolled == {"support@demo.test", "admin@demo.test"}
    assert all(mfa.is_enrolled(user_id(e)) for e in enrolled)
    assert not [line for line in demo.seed() if "two-step" in line]  # idempotent
    assert db.session.execute(select(func.count()).select_from(MfaSecret)).scalar() == 2


def test_a_demo_staff_member_logs_in_with_an_authenticator_code(app):
    demo.seed()
    client = app.test_client()
    response = client.post("/login", data={"email": "admin@demo.test",
                                           "password": DEMO_PASSWORD})
    assert response.headers["Location"] == "/login/code"
    response = client.post("/login/code", data={"code": DemoTOTP(DEMO_TOTP_SECRET).now()})
    assert response.status_code == 303 and response.headers["Location"] == "/support/payments"
    assert client.get("/support/audit").status_code == 200


def test_seeding_is_refused_where_demo_accounts_are(app, monkeypatch):
    monkeypatch.setitem(app.config, "DEMO_ACCOUNTS_ALLOWED", False)
    with pytest.raises(ServiceError, match="refused"):
        demo.seed()
    assert db.session.execute(select(func.count()).select_from(MfaSecret)).scalar() == 0


def test_the_banner_and_the_readme_give_the_demo_secret(app, monkeypatch):
    assert "Staff TOTP secret (demo): HOLDFASTDEMOTOTP" in banner(app)
    monkeypatch.setitem(app.config, "DEMO_ACCOUNTS_ALLOWED", False)
    assert DEMO_TOTP_SECRET not in banner(app)
    assert "`HOLDFASTDEMOTOTP`" in README.read_text()
