"""Settings: production refuses weak secrets, development generates and keeps its own."""
from __future__ import annotations

import json
import stat

import pytest

from config import (
    KNOWN_DEFAULTS,
    SECRET_NAMES,
    ConfigError,
    DevelopmentConfig,
    ProductionConfig,
    TestConfig,
    load_config,
)

STRONG = {
    "SECRET_KEY": "s3cr3t-key-with-plenty-of-entropy-01",
    "SANDBOX_WEBHOOK_SECRET": "whsec_live_9f8e7d6c5b4a39281706",
    "ENCRYPTION_KEY": "enc-key-0123456789abcdefghijklmnop",
    "AUDIT_KEY": "audit-key-0123456789abcdefghijklmnop",
    "STATEMENT_SIGNING_KEY": "statement-key-0123456789abcdefghij",
}
PRODUCTION_ENV = STRONG | {"DATABASE_URL": "postgresql://holdfast@db/holdfast",
                           "SANDBOX_API_KEY": "sk_live_platform_key_123456",
                           "SANDBOX_API_URL": "https://psp.example.test"}


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No secrets, database or PSP key inherited from the suite's environment."""
    for name in (*SECRET_NAMES, "DATABASE_URL", "SANDBOX_API_KEY", "HOLDFAST_PROVIDERS",
                 "SANDBOX_WEBHOOK_SECRET_PREVIOUS", "SANDBOX_API_URL", "SANDBOX_US_API_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOLDFAST_INSTANCE", str(tmp_path / "instance"))
    return monkeypatch


def _production_env(monkeypatch, **overrides):
    for name, value in (PRODUCTION_ENV | overrides).items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)


def test_production_accepts_strong_secrets_and_a_database(clean_env):
    _production_env(clean_env)
    settings = load_config("production")
    for name, value in STRONG.items():
        assert settings[name] == value
    assert settings["SQLALCHEMY_DATABASE_URI"] == PRODUCTION_ENV["DATABASE_URL"]


@pytest.mark.parametrize("name", SECRET_NAMES)
def test_production_refuses_a_missing_secret(clean_env, name):
    _production_env(clean_env, **{name: None})
    with pytest.raises(ConfigError, match=name):
        load_config("production")


@pytest.mark.parametrize("name", SECRET_NAMES)
@pytest.mark.parametrize("value", sorted(KNOWN_DEFAULTS - {""}) + ["CHANGE-ME", "short-but-new"])
def test_production_refuses_a_default_or_short_secret(clean_env, name, value):
    _production_env(clean_env, **{name: value})
    with pytest.raises(ConfigError, match=name):
        load_config("production")


def test_production_refuses_a_missing_database(clean_env):
    _production_env(clean_env, DATABASE_URL=None)
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        load_config("production")


def test_production_refuses_the_public_sandbox_api_key(clean_env):
    _production_env(clean_env, SANDBOX_API_KEY=None)
    with pytest.raises(ConfigError, match="SANDBOX_API_KEY"):
        load_config("production")


def test_production_lists_every_problem_at_once(clean_env):
    _production_env(clean_env, SECRET_KEY=None, ENCRYPTION_KEY="dev", DATABASE_URL=None)
    with pytest.raises(ConfigError) as caught:
        load_config("production")
    message = str(caught.value)
    assert "SECRET_KEY" in message and "ENCRYPTION_KEY" in message and "DATABASE_URL" in message
    assert "SANDBOX_WEBHOOK_SECRET" not in message


def test_production_cookies_are_secure_and_host_prefixed(clean_env):
    _production_env(clean_env)
    settings = load_config("production")
    assert settings["SESSION_COOKIE_SECURE"] is True
    assert settings["REMEMBER_COOKIE_SECURE"] is True
    assert settings["SESSION_COOKIE_NAME"].startswith("__Host-")
    assert settings["SESSION_COOKIE_HTTPONLY"] is True
    assert settings["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert settings["DEMO_ACCOUNTS_ALLOWED"] is False
    assert settings.get("WTF_CSRF_ENABLED", True) is not False


def test_production_app_sets_a_secure_host_cookie(clean_env, tmp_path):
    from app import create_app

    _production_env(clean_env, DATABASE_URL=f"sqlite:///{tmp_path / 'prod.db'}")
    app = create_app("production")
    response = app.test_client().get("/login")  # the CSRF token puts something in the session
    assert response.status_code == 200
    cookies = response.headers.getlist("Set-Cookie")
    [cookie] = [c for c in cookies if "holdfast_session=" in c]
    assert cookie.startswith("__Host-holdfast_session=")
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Path=/" in cookie and "Domain=" not in cookie  # what __Host- requires
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    # Development-only pages do not exist in production.
    assert not any(rule.rule.startswith("/dev/") for rule in app.url_map.iter_rules())


def test_unknown_environment_is_refused(clean_env):
    with pytest.raises(ConfigError, match="HOLDFAST_ENV"):
        load_config("staging")


def test_development_generates_secrets_once_and_reuses_them(clean_env, tmp_path):
    first = load_config("development")
    path = tmp_path / "instance" / "secrets.json"
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    stored = json.loads(path.read_text())
    for name in SECRET_NAMES:
        assert len(first[name]) >= 32
        assert first[name] == stored[name]
        assert first[name].lower() not in KNOWN_DEFAULTS
    assert len({first[n] for n in SECRET_NAMES}) == len(SECRET_NAMES)  # no secret reused

    second = load_config("development")
    assert {n: second[n] for n in SECRET_NAMES} == {n: first[n] for n in SECRET_NAMES}
    assert json.loads(path.read_text()) == stored


def test_development_fills_in_a_missing_secret_and_keeps_the_rest(clean_env, tmp_path):
    first = load_config("development")
    path = tmp_path / "instance" / "secrets.json"
    stored = json.loads(path.read_text())
    del stored["ENCRYPTION_KEY"]
    path.write_text(json.dumps(stored))
    second = load_config("development")
    assert second["SECRET_KEY"] == first["SECRET_KEY"]
    assert second["ENCRYPTION_KEY"] and second["ENCRYPTION_KEY"] != first["ENCRYPTION_KEY"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_development_environment_secret_wins_over_the_generated_one(clean_env, tmp_path):
    clean_env.setenv("SECRET_KEY", STRONG["SECRET_KEY"])
    settings = load_config("development")
    assert settings["SECRET_KEY"] == STRONG["SECRET_KEY"]
    database = tmp_path / "instance" / "holdfast.db"
    assert settings["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{database}"


def test_demo_accounts_are_allowed_only_outside_production():
    assert DevelopmentConfig.DEMO_ACCOUNTS_ALLOWED is True
    assert TestConfig.DEMO_ACCOUNTS_ALLOWED is True
    assert ProductionConfig.DEMO_ACCOUNTS_ALLOWED is False


def test_seed_refuses_when_demo_accounts_are_not_allowed(app, monkeypatch):
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models import User
    from app.services.demo import seed
    from app.services.errors import ServiceError

    monkeypatch.setitem(app.config, "DEMO_ACCOUNTS_ALLOWED", False)
    with pytest.raises(ServiceError, match="refused"):
        seed()
    assert db.session.execute(select(func.count()).select_from(User)).scalar() == 0

    result = app.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code != 0
    assert "refused" in result.output
    assert db.session.execute(select(func.count()).select_from(User)).scalar() == 0


def test_production_without_the_sandbox_needs_none_of_its_secrets(clean_env):
    """The sandbox is a provider like the others: not pointed at, it is not in use, so its
    webhook secret and API key are not asked for — and with it pointed at, they are."""
    _production_env(clean_env, SANDBOX_API_URL=None, SANDBOX_WEBHOOK_SECRET=None,
                    SANDBOX_API_KEY=None)
    settings = load_config("production")
    assert settings["SANDBOX_ENABLED"] is False
    _production_env(clean_env, SANDBOX_WEBHOOK_SECRET=None)
    with pytest.raises(ConfigError, match="SANDBOX_WEBHOOK_SECRET"):
        load_config("production")


def test_capture_policy_defaults_to_checkout_and_is_chosen_by_environment(clean_env):
    clean_env.delenv("CAPTURE_POLICY", raising=False)
    development = load_config("development")
    assert development["CAPTURE_POLICY"] == "at_checkout"  # what `make run` does
    assert development["UNCAPTURED_VOID_DAYS"] == 5
    assert development["AUTHORIZATION_LIFETIME_DAYS"] == {"sandbox": 7, "stripe": 7,
                                                          "braintree": 7}
    assert load_config("test")["CAPTURE_POLICY"] == "at_checkout"
    clean_env.setenv("CAPTURE_POLICY", "per_shipment")
    clean_env.setenv("UNCAPTURED_VOID_DAYS", "3")
    chosen = load_config("development")
    assert (chosen["CAPTURE_POLICY"], chosen["UNCAPTURED_VOID_DAYS"]) == ("per_shipment", 3)


def test_an_unknown_capture_policy_is_refused(clean_env):
    clean_env.setenv("CAPTURE_POLICY", "whenever")
    with pytest.raises(ConfigError, match="CAPTURE_POLICY"):
        load_config("development")
