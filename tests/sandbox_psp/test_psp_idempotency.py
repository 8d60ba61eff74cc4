"""Idempotency-Key: Stripe's semantics, and one execution per key."""
import threading

from sandbox_psp import sessions
from sandbox_psp.idempotency import scope_of
from sandbox_psp.models import IdempotencyKey, db, now

BODY = {"amount": 2500, "currency": "eur", "mode": "hosted", "return_url": "http://127.0.0.1:5000/r"}


def executions(api, api_key=None):
    return api.get("/_stats", api_key=api_key or api.API_KEY).json["executions"]


def test_a_retry_replays_the_first_response(api):
    first = api.post("/payment_sessions", BODY, key="create-1")
    again = api.post("/payment_sessions", dict(reversed(list(BODY.items()))), key="create-1")
    assert first.status_code == again.status_code == 200
    assert again.get_data() == first.get_data()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(api.get("/payment_sessions").json["data"]) == 1
    assert executions(api) == {"create-1": 1}


def test_an_error_answer_is_replayed_too(api):
    session = api.create_session()
    early = api.post(f"/payment_sessions/{session['id']}/capture", key="cap-1")
    assert early.status_code == 409
    api.post(f"/payment_sessions/{session['id']}/authorize", {"payment_method": "pm_card_visa"})
    retried = api.post(f"/payment_sessions/{session['id']}/capture", key="cap-1")
    assert retried.status_code == 409 and retried.get_data() == early.get_data()
    assert api.session(session["id"])["status"] == "authorized"
    assert api.post(f"/payment_sessions/{session['id']}/capture", key="cap-2").status_code == 200


def test_a_decline_is_replayed_and_not_retried_at_the_issuer(api):
    session = api.create_session()
    path = f"/payment_sessions/{session['id']}/authorize"
    first = api.post(path, {"payment_method": "pm_card_chargeDeclined"}, key="auth-1")
    again = api.post(path, {"payment_method": "pm_card_chargeDeclined"}, key="auth-1")
    assert first.status_code == again.status_code == 402
    assert again.get_data() == first.get_data()
    assert api.event_types().count("payment_session.payment_failed") == 1


def test_a_500_once_executing_is_saved_and_replayed(api, monkeypatch):
    def explode(*_args):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(sessions, "create", explode)
    first = api.post("/payment_sessions", BODY, key="boom")
    assert first.status_code == 500 and first.json["error"]["type"] == "api_error"
    assert "fire" not in first.get_data(as_text=True)
    monkeypatch.undo()
    again = api.post("/payment_sessions", BODY, key="boom")
    assert again.status_code == 500 and again.get_data() == first.get_data()
    assert api.get("/payment_sessions").json["data"] == []
    assert executions(api) == {"boom": 1}


def test_same_key_with_other_parameters_is_an_idempotency_error(api):
    assert api.post("/payment_sessions", BODY, key="k").status_code == 200
    other = api.post("/payment_sessions", {**BODY, "amount": 2600}, key="k")
    assert other.status_code == 400
    assert other.json["error"]["type"] == "idempotency_error"
    session_id = api.get("/payment_sessions").json["data"][0]["id"]
    elsewhere = api.post(f"/payment_sessions/{session_id}/cancel", key="k")
    assert elsewhere.status_code == 400 and elsewhere.json["error"]["type"] == "idempotency_error"
    assert len(api.get("/payment_sessions").json["data"]) == 1
    assert executions(api) == {"k": 1}


def test_a_request_racing_an_in_flight_one_gets_409(app, api):
    with app.app_context():
        from sandbox_psp.idempotency import request_fingerprint
        db.session.add(IdempotencyKey(scope=scope_of(api.API_KEY), key="busy", created=now(), executions=1,
                                      request_fingerprint=request_fingerprint("POST", "/v1/payment_sessions", BODY)))
        db.session.commit()
    response = api.post("/payment_sessions", BODY, key="busy")
    assert response.status_code == 409
    assert response.json["error"]["type"] == "idempotency_error"
    assert response.json["error"]["code"] == "idempotency_key_in_use"
    assert api.get("/payment_sessions").json["data"] == []


def test_concurrent_requests_with_one_key_execute_once(app):
    barrier, answers = threading.Barrier(8), []

    def call():
        client = app.test_client()
        barrier.wait()
        response = client.post("/v1/payment_sessions", json=BODY, headers={
            "Authorization": "Bearer sk_test_fixture", "Idempotency-Key": "race"})
        answers.append((response.status_code, response.get_data()))

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(answers) == 8
    assert {status for status, _ in answers} <= {200, 409}
    assert len({body for status, body in answers if status == 200}) == 1
    with app.app_context():
        from sandbox_psp.models import PaymentSession
        assert db.session.query(PaymentSession).count() == 1
        assert db.session.scalar(db.select(IdempotencyKey.executions).filter_by(key="race")) == 1


def test_a_request_failing_validation_saves_nothing(api):
    bad = api.post("/payment_sessions", {**BODY, "amount": -1}, key="fix-me")
    assert bad.status_code == 400
    assert executions(api) == {}
    good = api.post("/payment_sessions", BODY, key="fix-me")
    assert good.status_code == 200
    assert executions(api) == {"fix-me": 1}


def test_keys_are_scoped_per_api_key(api):
    mine = api.post("/payment_sessions", BODY, key="shared", api_key=api.API_KEY)
    theirs = api.post("/payment_sessions", BODY, key="shared", api_key=api.OTHER_API_KEY)
    assert mine.json["id"] != theirs.json["id"]
    assert executions(api) == {"shared": 1}
    assert executions(api, api.OTHER_API_KEY) == {"shared": 1}


def test_an_overlong_key_is_refused(api):
    response = api.post("/payment_sessions", BODY, key="x" * 256)
    assert response.status_code == 400
    assert api.post("/payment_sessions", BODY, key="x" * 255).status_code == 200


def test_gets_ignore_the_key_and_unkeyed_posts_always_execute(api):
    api.post("/payment_sessions", BODY)
    api.post("/payment_sessions", BODY)
    assert len(api.get("/payment_sessions").json["data"]) == 2
    assert executions(api) == {}
