"""Authentication, parameter validation and the plain session calls of the JSON API."""
import pytest


@pytest.mark.parametrize("header", [None, "Bearer sk_test_wrong", "Basic sk_test_fixture", "Bearer ", "sk_test_fixture"])
def test_calls_without_a_valid_key_are_refused(client, header):
    headers = {"Authorization": header} if header else {}
    for response in (client.get("/v1/events", headers=headers),
                     client.post("/v1/payment_sessions", json={}, headers=headers),
                     client.get("/v1/_stats", headers=headers)):
        assert response.status_code == 401
        assert response.json["error"]["type"] == "authentication_error"


def test_every_configured_key_is_accepted(api):
    assert api.get("/events", api_key=api.API_KEY).status_code == 200
    assert api.get("/events", api_key=api.OTHER_API_KEY).status_code == 200


@pytest.mark.parametrize("change, param", [
    ({"amount": True}, "amount"), ({"amount": "2500"}, "amount"), ({"amount": 0}, "amount"),
    ({"amount": -5}, "amount"), ({"amount": 25.0}, "amount"), ({"amount": None}, "amount"),
    ({"amount": 10**9}, "amount"),
    ({"currency": "eu"}, "currency"), ({"currency": "euro"}, "currency"), ({"currency": "e1r"}, "currency"),
    ({"currency": 978}, "currency"),
    ({"mode": "redirect"}, "mode"), ({"mode": None}, "mode"),
    ({"capture_method": "later"}, "capture_method"),
    ({"return_url": "javascript:alert(1)"}, "return_url"), ({"return_url": "ftp://x.test/r"}, "return_url"),
    ({"return_url": "/relative"}, "return_url"), ({"return_url": None}, "return_url"),
    ({"cancel_url": "data:text/html,hi"}, "cancel_url"),
    ({"metadata": ["a"]}, "metadata"), ({"expires_in": 0}, "expires_in"),
    ({"status": "captured"}, "status"), ({"amount_captured": 2500}, "amount_captured"),
])
def test_invalid_session_parameters_answer_400_naming_the_param(api, change, param):
    body = {"amount": 2500, "currency": "eur", "mode": "hosted", "return_url": api.RETURN_URL}
    body.update(change)
    body = {k: v for k, v in body.items() if v is not None or k != param}
    response = api.post("/payment_sessions", body)
    assert response.status_code == 400, response.json
    assert response.json["error"]["type"] == "invalid_request_error"
    assert response.json["error"]["param"] == param
    assert api.get("/payment_sessions").json["data"] == []


@pytest.mark.parametrize("origin", [None, "http://127.0.0.1:5999", "https://evil.test", "*"])
def test_embedded_sessions_need_the_platform_origin_as_parent(api, origin):
    body = {"amount": 2500, "currency": "eur", "mode": "embedded"}
    if origin:
        body["parent_origin"] = origin
    response = api.post("/payment_sessions", body)
    assert response.status_code == 400
    assert response.json["error"]["param"] == "parent_origin"


def test_a_non_json_body_is_refused(client, api):
    response = client.post("/v1/payment_sessions", data="amount=5",
                           headers={"Authorization": f"Bearer {api.API_KEY}",
                                    "Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 400
    assert response.json["error"]["type"] == "invalid_request_error"


def test_create_answers_an_open_session(api):
    session = api.create_session(currency="EUR", client_reference_id="order-1", metadata={"order": 1},
                                 expires_in=600)
    assert session["id"].startswith("ps_") and session["object"] == "payment_session"
    assert session["status"] == "open" and session["livemode"] is False
    assert session["currency"] == "eur" and session["amount"] == 2500
    assert (session["amount_authorized"], session["amount_captured"], session["amount_refunded"]) == (0, 0, 0)
    assert session["metadata"] == {"order": "1"}
    assert session["url"] == f"http://127.0.0.1:5001/pay/{session['id']}"
    assert session["embed_url"] == f"http://127.0.0.1:5001/embed/{session['id']}"
    assert session["expires_at"] == session["created"] + 600
    assert session["payment_method"] is None and session["fee"] is None
    assert session["last_payment_error"] is None


def test_session_defaults(api):
    session = api.create_session(capture_method=None)
    assert session["capture_method"] == "automatic"
    assert session["expires_at"] == session["created"] + 1800


def test_retrieve_and_missing_session(api):
    session = api.create_session()
    assert api.get(f"/payment_sessions/{session['id']}").json == session
    missing = api.get("/payment_sessions/ps_nope")
    assert missing.status_code == 404
    assert missing.json["error"] == {"type": "invalid_request_error", "code": "resource_missing",
                                     "message": "No such payment_session: 'ps_nope'", "param": "id"}


def test_list_by_client_reference_id(api):
    first = api.create_session(client_reference_id="order-7")
    api.create_session(client_reference_id="order-8")
    second = api.create_session(client_reference_id="order-7")
    listed = api.get("/payment_sessions", client_reference_id="order-7").json
    assert listed["object"] == "list" and listed["has_more"] is False
    assert {s["id"] for s in listed["data"]} == {first["id"], second["id"]}
    assert len(api.get("/payment_sessions").json["data"]) == 3
    assert api.get("/payment_sessions", limit="2").json["has_more"] is True


def test_cancel_an_open_session_then_again(api):
    session = api.create_session()
    canceled = api.post(f"/payment_sessions/{session['id']}/cancel")
    assert canceled.status_code == 200 and canceled.json["status"] == "canceled"
    again = api.post(f"/payment_sessions/{session['id']}/cancel")
    assert again.status_code == 409
    assert again.json["error"]["code"] == "payment_session_unexpected_state"
    assert "canceled" in again.json["error"]["message"]


def test_unknown_routes_and_methods_answer_json(api, client):
    assert api.get("/nothing").status_code == 404
    assert api.get("/nothing").json["error"]["type"] == "invalid_request_error"
    response = client.delete("/v1/events", headers={"Authorization": f"Bearer {api.API_KEY}"})
    assert response.status_code == 405 and "error" in response.json


def test_api_responses_are_nosniff(api):
    assert api.get("/events").headers["X-Content-Type-Options"] == "nosniff"
