"""Reusable payment methods: saved on authorization when asked, reused by the same API key only."""
from pathlib import Path

from sandbox_psp.models import PaymentMethod, db


def saving_session(api, **overrides) -> dict:
    return api.create_session(setup_future_usage="off_session", **overrides)


def authorize(api, session, payment_method, **kw):
    return api.post(f"/payment_sessions/{session['id']}/authorize",
                    {"payment_method": payment_method}, **kw)


def saved_method(api, payment_method="pm_card_visa") -> dict:
    session = saving_session(api)
    response = authorize(api, session, payment_method)
    assert response.status_code == 200, response.json
    return response.json["payment_method"]


def stored_methods(app) -> list[PaymentMethod]:
    with app.app_context():
        rows = db.session.scalars(db.select(PaymentMethod)).all()
        db.session.expunge_all()
        return rows


def test_a_session_asking_to_save_attaches_a_reusable_method_when_authorized(api, app):
    session = saving_session(api)
    assert session["setup_future_usage"] == "off_session"
    assert api.session(session["id"])["payment_method"] is None  # nothing before authorization
    response = authorize(api, session, "pm_card_visa")
    method = response.json["payment_method"]
    assert method["id"].startswith("pm_") and not method["id"].startswith("pm_card_")
    assert (method["brand"], method["last4"], method["exp_month"]) == ("visa", "4242", 12)
    assert len(method["fingerprint"]) == 16
    [row] = stored_methods(app)
    assert row.id == method["id"] and row.session_id == session["id"]
    # The authorized event's snapshot carries the method too (the platform learns it by webhook).
    [event] = api.get("/events", type="payment_session.authorized").json["data"]
    assert event["data"]["object"]["payment_method"]["id"] == method["id"]


def test_a_session_not_asking_saves_nothing(api, app):
    session = api.authorized_session()
    assert session["setup_future_usage"] is None
    assert "id" not in session["payment_method"]
    assert stored_methods(app) == []


def test_setup_future_usage_accepts_only_the_two_usages(api):
    response = api.post("/payment_sessions", {"amount": 100, "currency": "eur", "mode": "hosted",
                                               "return_url": api.RETURN_URL,
                                               "setup_future_usage": "forever"})
    assert response.status_code == 400
    assert response.json["error"]["param"] == "setup_future_usage"


def test_a_saved_method_authorizes_another_session_of_the_same_key(api, app):
    method = saved_method(api)
    session = api.create_session(amount=990)
    response = authorize(api, session, method["id"])
    assert response.status_code == 200
    assert response.json["status"] == "authorized" and response.json["amount_authorized"] == 990
    assert response.json["payment_method"] == method
    assert len(stored_methods(app)) == 1  # reusing it saves no second copy


def test_a_saved_method_of_another_api_key_is_unknown(api):
    method = saved_method(api)
    response = api.post("/payment_sessions", {"amount": 100, "currency": "eur", "mode": "hosted",
                                               "return_url": api.RETURN_URL},
                        api_key=api.OTHER_API_KEY)
    session = response.json
    response = authorize(api, session, method["id"], api_key=api.OTHER_API_KEY)
    assert response.status_code == 400
    assert response.json["error"]["code"] == "resource_missing"
    assert response.json["error"]["param"] == "payment_method"
    assert api.session(session["id"])["status"] == "open"


def test_an_unknown_method_is_resource_missing(api):
    session = api.create_session()
    response = authorize(api, session, "pm_0123456789abcdef01234567")
    assert response.status_code == 400 and response.json["error"]["code"] == "resource_missing"


def test_a_saved_three_d_secure_card_still_needs_the_challenge(api, client, app):
    session = saving_session(api)
    api.submit_card(session, "4000002760003184")
    api.answer_challenge(session, "complete")
    method = api.session(session["id"])["payment_method"]
    assert method["id"].startswith("pm_")

    later = api.create_session()
    response = authorize(api, later, method["id"])
    assert response.status_code == 200 and response.json["status"] == "requires_action"
    # The buyer goes to the session's page, which sends them to the challenge.
    page = client.get(f"/pay/{later['id']}")
    assert page.status_code == 303 and page.headers["Location"].endswith(f"/pay/{later['id']}/3ds")
    api.answer_challenge(later, "complete")
    assert api.session(later["id"])["status"] == "authorized"
    assert len(stored_methods(app)) == 1


def test_a_failed_challenge_or_a_decline_saves_nothing(api, app):
    session = saving_session(api)
    api.submit_card(session, "4000002760003184")
    api.answer_challenge(session, "fail")
    declined = saving_session(api)
    assert authorize(api, declined, "pm_card_chargeDeclined").status_code == 402
    assert stored_methods(app) == []


def test_the_saved_card_keeps_no_number_or_cvc(api, app, db_path):
    session = saving_session(api)
    api.submit_card(session, "5555 5555 5555 4444", cvc="737")
    method = api.session(session["id"])["payment_method"]
    assert (method["brand"], method["last4"]) == ("mastercard", "4444")
    with app.app_context():
        db.session.commit()
    data = b"".join(p.read_bytes() for p in (Path(db_path), Path(f"{db_path}-wal")) if p.exists())
    assert method["id"].encode() in data  # the scan sees the saved method…
    assert b"5555555555554444" not in data and b"5555 5555" not in data  # …never the number
    assert not {c.name for c in PaymentMethod.__table__.columns} & {"number", "cvc", "card_number"}


def test_the_card_form_tells_the_buyer_the_card_will_be_saved(api):
    assert "will be saved" in api.page(saving_session(api)).text
    assert "will be saved" not in api.page(api.create_session()).text
