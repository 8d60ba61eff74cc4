"""Card fields: the versioned library, the field frames, single-use tokens made in the browser
and spent by the platform's server, 3-D Secure after a token, and the fields fee schedule."""
import pytest

from sandbox_psp.fees import SCHEDULES

PK = "pk_test_sandbox"  # paired with the fixture's first secret key
SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}


def make_token(client, number="4242424242424242", expiry=None, cvc="123", key=PK,
               headers=SAME_ORIGIN):
    from tests.sandbox_psp.conftest import FUTURE_EXPIRY
    return client.post("/fields/v1/tokens", headers=headers,
                       json={"key": key, "number": number, "expiry": expiry or FUTURE_EXPIRY,
                             "cvc": cvc})


def fields_session(api, **overrides):
    return api.create_session(mode="fields", **overrides)


def test_the_library_is_versioned_cross_origin_readable_and_stable(client, app):
    response = client.get("/v1/js/fields.v1.js")
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"  # SRI needs CORS
    assert "javascript" in response.mimetype
    path = f"{app.static_folder}/js/v1/fields.v1.js"
    assert response.data == open(path, "rb").read()
    assert client.get("/v1/js/fields.v2.js").status_code == 404
    assert client.get("/v1/js/..%2Fconfig.py").status_code == 404


def test_a_field_frame_may_be_framed_only_by_the_platform(client, api):
    response = client.get("/fields/v1/number?key=pk_test_sandbox&channel=abc&label=Card+number")
    assert response.status_code == 200
    csp = response.headers["Content-Security-Policy"]
    assert f"frame-ancestors {api.PLATFORM_ORIGIN}" in csp and "script-src 'self'" in csp
    assert 'aria-label="Card number"' in response.text and "name=" not in response.text
    assert client.get("/fields/v1/pan").status_code == 404


def test_a_token_shows_display_data_only_and_never_the_number(client):
    response = make_token(client)
    assert response.status_code == 200, response.json
    token = response.json
    assert token["id"].startswith("tok_") and token["object"] == "token"
    assert token["card"]["last4"] == "4242" and token["card"]["brand"] == "visa"
    assert "4242424242424242" not in response.text and "123" not in str(token["card"])


@pytest.mark.parametrize("number, expiry, cvc, param", [
    ("4242424242424241", None, "123", "number"),
    ("4242424242424242", "13/30", "123", "expiry"),
    ("4242424242424242", None, "12", "cvc"),
])
def test_a_bad_field_is_named(client, number, expiry, cvc, param):
    response = make_token(client, number, expiry, cvc)
    assert response.status_code == 400 and response.json["error"]["param"] == param


def test_tokens_are_made_only_by_the_frames_and_with_a_known_key(client):
    cross = make_token(client, headers={"Origin": "https://evil.example",
                                        "Sec-Fetch-Site": "cross-site"})
    assert cross.status_code == 403
    assert make_token(client, key="pk_test_unknown").status_code == 401


def test_a_token_pays_one_session_once(client, api):
    token = make_token(client).json["id"]
    session = fields_session(api)
    paid = api.post(f"/payment_sessions/{session['id']}/authorize", {"payment_method": token})
    assert paid.status_code == 200 and paid.json["status"] == "authorized"
    assert paid.json["payment_method"]["last4"] == "4242"
    again = fields_session(api)
    reused = api.post(f"/payment_sessions/{again['id']}/authorize", {"payment_method": token})
    assert reused.status_code == 400 and reused.json["error"]["code"] == "token_already_used"


def test_another_accounts_token_is_unknown(client, api):
    token = make_token(client).json["id"]
    other = api.post("/payment_sessions", {"amount": 100, "currency": "eur", "mode": "fields",
                                           "return_url": api.RETURN_URL},
                     api_key=api.OTHER_API_KEY).json
    refused = api.post(f"/payment_sessions/{other['id']}/authorize", {"payment_method": token},
                       api_key=api.OTHER_API_KEY)
    assert refused.status_code == 400
    assert refused.json["error"]["code"] == "resource_missing"


def test_a_declined_card_is_declined_when_authorized_and_the_token_is_spent(client, api):
    token = make_token(client, "4000000000009995").json["id"]
    session = fields_session(api)
    declined = api.post(f"/payment_sessions/{session['id']}/authorize", {"payment_method": token})
    assert declined.status_code == 402
    assert declined.json["error"]["decline_code"] == "insufficient_funds"
    assert api.session(session["id"])["status"] == "open"  # the buyer may try another card


def test_a_token_is_not_wasted_on_a_session_that_cannot_take_it(client, api):
    token = make_token(client).json["id"]
    session = fields_session(api)
    api.post(f"/payment_sessions/{session['id']}/cancel")
    refused = api.post(f"/payment_sessions/{session['id']}/authorize", {"payment_method": token})
    assert refused.status_code == 409
    fresh = fields_session(api)
    assert api.post(f"/payment_sessions/{fresh['id']}/authorize",
                    {"payment_method": token}).status_code == 200


def test_three_d_secure_after_a_token_returns_to_the_platform(client, api):
    token = make_token(client, "4000002760003184").json["id"]
    session = fields_session(api)
    answer = api.post(f"/payment_sessions/{session['id']}/authorize", {"payment_method": token})
    assert answer.json["status"] == "requires_action"
    assert answer.json["url"].endswith(f"/auth/{session['id']}")
    assert client.get(f"/auth/{session['id']}").headers["Location"].endswith(
        f"/auth/{session['id']}/3ds")
    done = api.answer_challenge(session, "complete", kind="auth")
    assert done.status_code == 303 and done.headers["Location"].startswith(api.RETURN_URL)
    assert api.session(session["id"])["status"] == "authorized"


def test_failed_authentication_reopens_and_returns_to_the_platform(client, api):
    token = make_token(client, "4000002760003184").json["id"]
    session = fields_session(api)
    api.post(f"/payment_sessions/{session['id']}/authorize", {"payment_method": token})
    api.answer_challenge(session, "fail", kind="auth")
    shown = client.get(f"/auth/{session['id']}")
    assert shown.status_code == 303 and shown.headers["Location"].startswith(api.RETURN_URL)
    assert api.session(session["id"])["last_payment_error"]["code"] == "authentication_failed"


def test_fields_cost_less_than_hosted_and_more_than_direct(client, api):
    schedule = {row["mode"]: row for row in api.get("/fee_schedule").json["data"]}
    assert schedule["fields"] == {"mode": "fields", **SCHEDULES["fields"]}

    def cost(mode):
        return schedule[mode]["percent_bps"] * 10_000 + schedule[mode]["fixed"] * 10_000

    assert cost("hosted") > cost("embedded") > cost("fields") > cost("direct")
    token = make_token(client).json["id"]
    session = fields_session(api, amount=2500)
    api.post(f"/payment_sessions/{session['id']}/authorize", {"payment_method": token})
    captured = api.post(f"/payment_sessions/{session['id']}/capture").json
    assert captured["fee"] == {"amount": 55, "currency": "eur", "schedule": "fields",
                               "percent_bps": 140, "fixed": 20}  # 35 + 20

