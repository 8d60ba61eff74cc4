"""Staff two-step sign-in through the pages: the code step, enrolment (only with an
admin-issued enrolment code), re-prompts, lockout."""
from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditRecord, User
from app.models.security import MfaSecret
from app.services.audit import Actor
from app.services.security import enrolment_codes
from tests.flows import PASSWORD, login, next_code

COOKIE = "holdfast_session"


def password_step(client, who: str = "support", next_url: str | None = None):
    return client.post("/login", query_string={"next": next_url} if next_url else None,
                       data={"email": f"{who}@test.example", "password": PASSWORD})


def html(response) -> str:
    return response.get_data(as_text=True)


def last_audit(action: str) -> AuditRecord:
    db.session.rollback()
    return db.session.execute(select(AuditRecord).where(AuditRecord.action == action)
                              .order_by(AuditRecord.id.desc()).limit(1)).scalar_one()


def age_session(client, key: str, seconds: float) -> None:
    with client.session_transaction() as session:
        if isinstance(session.get(key), dict):
            session[key] = {**session[key], "at": session[key]["at"] - seconds}
        else:
            session[key] -= seconds


# --- The second step -----------------------------------------------------------------------

@pytest.mark.parametrize("who", ["support", "admin"])
def test_the_password_alone_does_not_log_staff_in(client, people, who):
    response = password_step(client, who)
    assert response.status_code == 303 and response.headers["Location"] == "/login/code"
    with client.session_transaction() as session:
        assert "_user_id" not in session and session["mfa_pending"]["user"] == people[who]
    response = client.get("/support/payments")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_the_code_page_asks_for_an_authentication_code(client, people):
    password_step(client)
    page = html(client.get("/login/code"))
    assert '<label for="code">Authentication code</label>' in page
    assert 'autocomplete="one-time-code"' in page


def test_the_right_code_logs_staff_in_and_is_audited(client, people):
    password_step(client)
    response = client.post("/login/code", data={"code": next_code(people["support"])})
    assert response.status_code == 303 and response.headers["Location"] == "/support/payments"
    assert client.get("/support/payments").status_code == 200
    record = last_audit("mfa.verified")
    assert (record.outcome, record.actor_id) == ("success", people["support"])
    with client.session_transaction() as session:
        assert "mfa_pending" not in session and session["mfa_at"] > 0


def test_the_code_step_keeps_a_local_next_and_drops_a_foreign_one(client, people):
    password_step(client, "admin", "/support/audit")
    response = client.post("/login/code", data={"code": next_code(people["admin"])})
    assert response.headers["Location"] == "/support/audit"
    other = client.application.test_client()
    password_step(other, "admin", "https://evil.example/")
    response = other.post("/login/code", data={"code": next_code(people["admin"])})
    assert response.headers["Location"] == "/support/payments"


def test_a_third_login_in_one_step_moves_the_clock_on_instead_of_waiting(app, people,
                                                                         platform_clock):
    """next_code: the ±1 step window allows two logins per 30-s step; a third one is reached by
    moving the platform's clock (server and test agree on it), never by sleeping."""
    start = platform_clock.freeze(1_800_000_000 + 15) // 30
    for _ in range(3):
        login(app.test_client(), "support")
    assert platform_clock.offset == 60  # steps start, start + 1, then (moved on) start + 2
    db.session.rollback()
    assert db.session.get(MfaSecret, people["support"]).last_used_step == start + 2


def test_a_wrong_code_is_refused_and_audited(client, people):
    password_step(client)
    response = client.post("/login/code", data={"code": "000000"})
    assert response.status_code == 401
    assert "That code is not right." in html(response)
    assert last_audit("mfa.verified").outcome == "failure"
    assert client.get("/support/payments").status_code == 302


def test_five_wrong_codes_send_the_person_back_to_the_password(client, people):
    password_step(client)
    for _ in range(4):
        assert client.post("/login/code", data={"code": "000000"}).status_code == 401
    response = client.post("/login/code", data={"code": "000000"})
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    response = client.post("/login/code", data={"code": next_code(people["support"])})
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    assert client.get("/support/payments").status_code == 302


def test_the_pending_step_expires(client, people):
    password_step(client)
    age_session(client, "mfa_pending", 301)
    response = client.post("/login/code", data={"code": next_code(people["support"])})
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    assert client.get("/support/payments").status_code == 302


def test_the_code_step_needs_the_password_step_first(client, people):
    response = client.post("/login/code", data={"code": next_code(people["support"])})
    assert response.status_code == 303 and response.headers["Location"] == "/login"


def test_logging_out_everywhere_cancels_a_pending_code_step(app, client, people):
    password_step(client)
    user = db.session.get(User, people["support"])
    user.session_version += 1
    db.session.commit()
    response = client.post("/login/code", data={"code": next_code(people["support"])})
    assert response.headers["Location"] == "/login"


def test_a_recovery_code_logs_in_once_and_says_how_many_are_left(client, people):
    codes = enrol_through_the_pages(client.application.test_client(), people)
    password_step(client)
    response = client.post("/login/code", data={"code": codes[0]}, follow_redirects=True)
    assert response.status_code == 200 and "You used a recovery code: 9 left." in html(response)
    again = client.application.test_client()
    password_step(again)
    assert again.post("/login/code", data={"code": codes[0]}).status_code == 401


# --- Enrolment (needs an admin-issued enrolment code first) -----------------------------------

ADMIN_ACTOR_LABEL = "admin@test.example"


def unenrol(user_id: int) -> None:
    db.session.execute(MfaSecret.__table__.delete().where(MfaSecret.user_id == user_id))
    db.session.commit()


def issue_code(people, who: str = "support") -> str:
    return enrolment_codes.issue(people[who], Actor(ADMIN_ACTOR_LABEL, "127.0.0.1",
                                                    people["admin"])).code


def type_enrolment_code(client, code: str):
    return client.post("/login/code/setup", data={"code": code})


def enrol_through_the_pages(client, people) -> list[str]:
    unenrol(people["support"])
    code = issue_code(people)
    response = password_step(client)
    assert response.headers["Location"] == "/login/code/setup"
    response = type_enrolment_code(client, code)
    assert response.status_code == 303 and response.headers["Location"] == "/login/code/setup"
    page = html(client.get("/login/code/setup"))
    secret = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', page).group(1)
    response = client.post("/login/code/setup", data={"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 200
    return re.findall(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>", html(response))


def test_without_an_enrolment_code_there_is_no_qr_code_only_ask_an_admin(client, people):
    unenrol(people["support"])
    password_step(client)
    page = html(client.get("/login/code/setup"))
    assert 'id="ask-an-admin"' in page and "Ask an" in page
    assert "totp-secret" not in page and "data:image/svg+xml" not in page
    assert db.session.get(MfaSecret, people["support"]) is None  # no secret was even made
    assert client.get("/support/payments").status_code == 302


def test_a_guessed_enrolment_code_shows_no_qr_code_and_is_audited(client, people):
    unenrol(people["support"])
    issue_code(people)
    password_step(client)
    page = html(client.get("/login/code/setup"))
    assert '<label for="code">Enrolment code</label>' in page and "totp-secret" not in page
    response = type_enrolment_code(client, "abcd-efgh-jkmn-pqrs")
    assert response.status_code == 401 and "That enrolment code is not valid" in html(response)
    assert "totp-secret" not in html(client.get("/login/code/setup"))
    record = last_audit("mfa.enrolment_code_checked")
    assert (record.outcome, record.actor_id) == ("failure", people["support"])
    assert json.loads(record.details)["reason"] == "wrong code"


def test_wrong_enrolment_codes_count_towards_the_lockout(client, people, monkeypatch):
    monkeypatch.setitem(client.application.config, "LOGIN_LOCK_THRESHOLD", 3)
    unenrol(people["support"])
    code = issue_code(people)
    password_step(client)
    for _ in range(3):
        assert type_enrolment_code(client, "abcd-efgh-jkmn-pqrs").status_code == 401
    response = type_enrolment_code(client, code)  # even the right code, while locked
    assert response.status_code == 429 and "Retry-After" in response.headers
    assert json.loads(last_audit("mfa.enrolment_code_checked").details)["reason"] == "locked"


def test_five_wrong_enrolment_codes_send_the_person_back_to_the_password(client, people):
    unenrol(people["support"])
    code = issue_code(people)
    password_step(client)
    for _ in range(4):
        assert type_enrolment_code(client, "abcd-efgh-jkmn-pqrs").status_code == 401
    response = type_enrolment_code(client, "abcd-efgh-jkmn-pqrs")
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    assert type_enrolment_code(client, code).headers["Location"] == "/login"


def test_unenrolled_staff_see_a_qr_code_and_the_key_after_their_enrolment_code(client, people):
    unenrol(people["support"])
    code = issue_code(people)
    password_step(client)
    assert type_enrolment_code(client, code.upper().replace("-", " ")).status_code == 303
    assert json.loads(last_audit("mfa.enrolment_code_checked").details)["code_id"] > 0
    page = html(client.get("/login/code/setup"))
    assert '<img src="data:image/svg+xml;base64,' in page  # inline: no request leaves the page
    assert '<label for="code">Authentication code</label>' in page
    secret = re.search(r'<code id="totp-secret">([A-Z2-7]{32})</code>', page).group(1)
    assert secret in html(client.get("/login/code/setup"))  # a reload shows the same key
    assert client.get("/support/payments").status_code == 302  # not logged in yet
    with client.session_transaction() as session:
        assert code.replace("-", "") not in json.dumps(session)  # only the code's id


def test_confirming_enrolment_shows_ten_recovery_codes_once_and_logs_in(client, people):
    codes = enrol_through_the_pages(client, people)
    assert len(codes) == 10
    assert client.get("/support/payments").status_code == 200
    record = last_audit("mfa.enrolled")
    assert record.outcome == "success" and json.loads(record.details)["enrolment_code_id"] > 0
    assert client.get("/login/code/setup").headers["Location"] == "/login"  # never again


def test_a_newer_code_issued_meanwhile_sends_the_person_back_to_the_code_step(client, people):
    unenrol(people["support"])
    password_step(client)
    type_enrolment_code(client, issue_code(people))
    assert "totp-secret" in html(client.get("/login/code/setup"))
    newer = issue_code(people)  # e.g. the admin suspects the first one leaked
    response = client.get("/login/code/setup")
    assert response.status_code == 303 and response.headers["Location"] == "/login/code/setup"
    page = html(client.get("/login/code/setup", follow_redirects=True))
    assert "no longer valid" in page and "totp-secret" not in page
    assert type_enrolment_code(client, newer).status_code == 303


def test_a_wrong_code_does_not_finish_enrolment(client, people):
    unenrol(people["support"])
    password_step(client)
    type_enrolment_code(client, issue_code(people))
    response = client.post("/login/code/setup", data={"code": "000000"})
    assert response.status_code == 400 and "That code is not right." in html(response)
    assert client.get("/support/payments").status_code == 302


def test_enrolled_staff_skip_enrolment(client, people):
    password_step(client)
    assert client.get("/login/code/setup").headers["Location"] == "/login/code"


# --- Re-prompt before payment data ---------------------------------------------------------

@pytest.mark.parametrize(("who", "path"), [("support", "/support/payments/999999"),
                                           ("admin", "/support/audit")])
def test_a_stale_code_asks_again_before_payment_data(client, people, who, path):
    login(client, who)
    age_session(client, "mfa_at", 301)
    response = client.get(path)
    assert response.status_code == 303
    location = urlsplit(response.headers["Location"])
    assert location.path == "/account/code" and parse_qs(location.query) == {"next": [path]}
    page = client.get(response.headers["Location"])
    assert "Confirm it" in html(page) and "Authentication code" in html(page)
    response = client.post(response.headers["Location"], data={"code": next_code(people[who])})
    assert response.status_code == 303 and response.headers["Location"] == path
    assert client.get(path).status_code in (200, 404)  # 404: there is no payment 999999


def test_a_fresh_code_is_not_asked_again(client, people):
    login(client, "admin")
    age_session(client, "mfa_at", 200)
    assert client.get("/support/audit").status_code == 200


def test_the_re_prompt_refuses_a_wrong_code(client, people):
    login(client, "admin")
    age_session(client, "mfa_at", 301)
    response = client.post("/account/code?next=/support/audit", data={"code": "000000"})
    assert response.status_code == 401
    assert client.get("/support/audit").status_code == 303


def test_the_re_prompt_never_redirects_off_site(client, people):
    login(client, "support")
    response = client.post("/account/code?next=https%3A%2F%2Fevil.example",
                           data={"code": next_code(people["support"])})
    assert response.headers["Location"] == "/support/payments"


@pytest.mark.parametrize("who", ["buyer", "seller"])
def test_the_re_prompt_is_for_staff_only(client, people, who):
    login(client, who)
    assert client.get("/account/code").status_code == 404


def test_role_is_checked_before_the_re_prompt(client, people):
    login(client, "support")
    age_session(client, "mfa_at", 301)
    assert client.get("/support/audit").status_code == 403


# --- Lockout and rate limits through the pages ---------------------------------------------

def test_a_locked_login_answers_429_with_retry_after_even_for_the_right_password(client, people):
    for _ in range(10):
        assert client.post("/login", data={"email": "buyer@test.example",
                                           "password": "wrong-password-x"}).status_code == 401
    response = client.post("/login", data={"email": "buyer@test.example", "password": PASSWORD})
    assert response.status_code == 429
    assert 1790 <= int(response.headers["Retry-After"]) <= 1800
    assert "Too many failed attempts" in html(response) and "30 minutes" in html(response)
    assert client.get("/cart").status_code == 302
    record = last_audit("auth.login")
    assert record.outcome == "failure" and json.loads(record.details)["reason"] == "locked"


def test_a_browser_that_logged_in_before_is_not_locked_out(app, people):
    owner = app.test_client()
    login(owner, "buyer")
    owner.post("/logout")
    attacker = app.test_client()
    for _ in range(10):
        attacker.post("/login", data={"email": "buyer@test.example", "password": "nope-nope-1"})
    assert attacker.post("/login", data={"email": "buyer@test.example",
                                         "password": PASSWORD}).status_code == 429
    # Same address in tests (127.0.0.1): the pair lock would apply, so come from elsewhere.
    response = owner.post("/login", data={"email": "buyer@test.example", "password": PASSWORD},
                          environ_base={"REMOTE_ADDR": "192.0.2.44"})
    assert response.status_code == 303


def test_login_sets_an_httponly_device_cookie(client, people):
    response = password_step(client, "buyer")
    cookie = next(c for c in response.headers.getlist("Set-Cookie")
                  if c.startswith("holdfast_device="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie


@pytest.fixture
def low_limits(app, monkeypatch, platform_clock):
    # The windows are fixed (aligned to the clock): stand still 15 s into one, so a test's
    # requests never straddle two windows however slowly they run.
    platform_clock.freeze(1_800_000_000 + 15)
    limits = dict(app.config["RATE_LIMITS"])
    limits.update(login=(2, 60), signup=(1, 3600), checkout=(2, 60), webhook=(2, 60))
    monkeypatch.setitem(app.config, "RATE_LIMITS", limits)


def test_login_posts_are_rate_limited_per_address(client, people, low_limits):
    form = {"email": "buyer@test.example", "password": PASSWORD}
    assert [client.post("/login", data=form).status_code for _ in range(2)] == [303, 303]
    response = client.post("/login", data=form)
    assert response.status_code == 429 and int(response.headers["Retry-After"]) >= 1
    assert client.get("/login").status_code == 200  # reading the page is not limited
    elsewhere = client.post("/login", data=form, environ_base={"REMOTE_ADDR": "192.0.2.9"})
    assert elsewhere.status_code == 303


def test_signup_posts_are_rate_limited(client, app, low_limits):
    form = {"display_name": "A", "email": "a1@test.example", "password": "long-enough-pw",
            "role": "buyer"}
    assert client.post("/signup", data=form).status_code == 303
    response = client.application.test_client().post(
        "/signup", data=form | {"email": "a2@test.example"})
    assert response.status_code == 429 and "Retry-After" in response.headers
    assert db.session.execute(select(User).where(User.email == "a2@test.example")).first() is None


def test_checkout_creation_is_rate_limited_per_buyer(app, people, low_limits):
    buyer = app.test_client()
    login(buyer, "buyer")
    codes = [buyer.post("/checkout", data={"currency": "EUR"}).status_code for _ in range(2)]
    response = buyer.post("/checkout/1/pay", data={"mode": "hosted"})
    assert codes == [303, 303] and response.status_code == 429
    assert "Retry-After" in response.headers
    other = app.test_client()
    login(other, "other_buyer")
    assert other.post("/checkout", data={"currency": "EUR"}).status_code == 303


def test_webhooks_are_rate_limited_with_a_json_answer(client, app, low_limits):
    for _ in range(2):
        assert client.post("/webhooks/sandbox", data=b"{}").status_code == 400  # bad signature
    response = client.post("/webhooks/sandbox", data=b"{}")
    assert response.status_code == 429 and response.is_json
    assert response.get_json()["error"]["code"] == 429
    assert int(response.headers["Retry-After"]) >= 1


def test_rate_limits_step_aside_when_redis_is_down(client, people, low_limits, monkeypatch):
    import redis

    from app.services.security import throttle

    def down(*_args):
        raise redis.ConnectionError("down")

    monkeypatch.setattr(throttle, "rate_limit_hit", down)
    for _ in range(3):  # over the limit of 2, yet served
        assert client.post("/webhooks/sandbox", data=b"{}").status_code == 400


def test_staff_can_replace_their_recovery_codes(client, people):
    old = enrol_through_the_pages(client, people)
    assert "Make new recovery codes" in html(client.get("/account/password"))
    response = client.post("/account/recovery-codes")
    assert response.status_code == 200 and "Your new recovery codes" in html(response)
    new = re.findall(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>", html(response))
    assert len(new) == 10 and not set(new) & set(old)
    assert last_audit("mfa.recovery_codes_replaced").actor_id == people["support"]
    for code, status in ((old[1], 401), (new[1], 303)):
        other = client.application.test_client()
        password_step(other)
        assert other.post("/login/code", data={"code": code}).status_code == status


def test_replacing_recovery_codes_needs_a_fresh_code(client, people):
    login(client, "support")
    age_session(client, "mfa_at", 301)
    response = client.post("/account/recovery-codes")
    assert response.status_code == 303 and response.headers["Location"] == "/account/code"
    assert db.session.execute(select(AuditRecord).where(
        AuditRecord.action == "mfa.recovery_codes_replaced")).first() is None


@pytest.mark.parametrize("who", ["buyer", "seller"])
def test_recovery_codes_are_for_staff_only(client, people, who):
    login(client, who)
    assert "recovery codes" not in html(client.get("/account/password"))
    assert client.post("/account/recovery-codes").status_code == 404
