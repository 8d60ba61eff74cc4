"""A session's life: 3-D Secure, capture, void, refunds, and the events each change records."""
import pytest


def capture(api, session, amount=None, **kw):
    return api.post(f"/payment_sessions/{session['id']}/capture", {"amount": amount} if amount else {}, **kw)


def refund(api, session, amount=None, **extra):
    body = {"payment_session": session["id"], **extra}
    if amount is not None:
        body["amount"] = amount
    return api.post("/refunds", body)


@pytest.mark.parametrize("kind, mode", [("pay", "hosted"), ("embed", "embedded")])
def test_three_d_secure_passed_authorizes(api, kind, mode):
    session = api.create_session(mode=mode)
    api.submit_card(session, "4000002760003184", kind=kind)
    assert api.session(session["id"])["status"] == "requires_action"
    response = api.answer_challenge(session, "complete", kind=kind)
    if kind == "pay":
        assert response.status_code == 303 and response.headers["Location"].startswith(api.RETURN_URL)
    else:
        assert response.status_code == 200 and "&#34;status&#34;: &#34;authorized&#34;" in response.text
    after = api.session(session["id"])
    assert after["status"] == "authorized" and after["payment_method"]["last4"] == "3184"
    assert api.event_types() == ["payment_session.requires_action", "payment_session.authorized"]


@pytest.mark.parametrize("kind, mode", [("pay", "hosted"), ("embed", "embedded")])
def test_three_d_secure_failed_reopens_with_authentication_failed(api, client, kind, mode):
    session = api.create_session(mode=mode)
    api.submit_card(session, "4000002760003184", kind=kind)
    response = api.answer_challenge(session, "fail", kind=kind)
    after = api.session(session["id"])
    assert after["status"] == "open" and after["payment_method"] is None
    assert after["last_payment_error"]["code"] == "authentication_failed"
    page = client.get(f"/{kind}/{session['id']}").text if kind == "pay" else response.text
    assert "could not authenticate" in page and 'for="card-number"' in page
    assert api.event_types() == ["payment_session.requires_action", "payment_session.payment_failed"]
    assert api.submit_card(session, "4242424242424242", kind=kind).status_code in (200, 303)
    assert api.session(session["id"])["status"] == "authorized"


def test_challenge_page_of_a_session_not_waiting_redirects(api, client):
    session = api.create_session()
    response = client.get(f"/pay/{session['id']}/3ds")
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/pay/{session['id']}")


def test_full_capture(api):
    session = api.authorized_session()
    response = capture(api, session)
    assert response.status_code == 200
    assert response.json["status"] == "captured" and response.json["amount_captured"] == 2500
    assert api.event_types()[-2:] == ["payment_session.authorized", "payment_session.captured"]


def test_partial_capture_releases_the_rest(api):
    session = api.authorized_session()
    response = capture(api, session, 1500)
    assert response.json["amount_captured"] == 1500 and response.json["amount_authorized"] == 2500
    assert capture(api, session, 500).status_code == 409


def test_over_capture_is_refused(api):
    session = api.authorized_session()
    response = capture(api, session, 2501)
    assert response.status_code == 400 and response.json["error"]["param"] == "amount"
    assert api.session(session["id"])["status"] == "authorized"


@pytest.mark.parametrize("amount", [0, -1, True, "100"])
def test_capture_amount_must_be_a_positive_integer(api, amount):
    session = api.authorized_session()
    response = api.post(f"/payment_sessions/{session['id']}/capture", {"amount": amount})
    assert response.status_code == 400 and response.json["error"]["param"] == "amount"


def test_capture_before_authorization_is_a_state_error(api):
    session = api.create_session()
    response = capture(api, session)
    assert response.status_code == 409
    assert response.json["error"]["code"] == "payment_session_unexpected_state"
    assert "open" in response.json["error"]["message"]


def test_automatic_capture_captures_on_authorization(api):
    session = api.create_session(capture_method="automatic")
    response = api.post(f"/payment_sessions/{session['id']}/authorize", {"payment_method": "pm_card_visa"})
    assert response.json["status"] == "captured" and response.json["amount_captured"] == 2500
    assert response.json["fee"]["amount"] == 103
    assert api.event_types() == ["payment_session.authorized", "payment_session.captured"]


def test_void_releases_an_authorization(api):
    session = api.authorized_session()
    response = api.post(f"/payment_sessions/{session['id']}/void")
    assert response.status_code == 200 and response.json["status"] == "canceled"
    assert response.json["amount_captured"] == 0
    assert api.event_types()[-1] == "payment_session.canceled"
    assert capture(api, session).status_code == 409


def test_void_after_capture_and_cancel_after_authorization_are_refused(api):
    session = api.authorized_session()
    assert api.post(f"/payment_sessions/{session['id']}/cancel").status_code == 409
    capture(api, session)
    assert api.post(f"/payment_sessions/{session['id']}/void").status_code == 409
    assert api.session(session["id"])["status"] == "captured"


def test_partial_then_full_refund(api):
    session = api.authorized_session()
    capture(api, session)
    first = refund(api, session, 1000, reason="requested_by_customer", metadata={"ticket": "T-1"})
    assert first.status_code == 200
    assert first.json["object"] == "refund" and first.json["id"].startswith("re_")
    assert (first.json["amount"], first.json["currency"], first.json["status"]) == (1000, "eur", "succeeded")
    assert first.json["payment_session"] == session["id"] and first.json["reason"] == "requested_by_customer"
    rest = refund(api, session)
    assert rest.json["amount"] == 1500
    after = api.session(session["id"])
    assert after["amount_refunded"] == 2500 and after["status"] == "captured"
    assert api.get(f"/refunds/{first.json['id']}").json == first.json
    assert api.event_types()[-2:] == ["refund.succeeded", "refund.succeeded"]


def test_over_refund_is_refused(api):
    session = api.authorized_session()
    capture(api, session, 2000)
    assert refund(api, session, 2001).status_code == 400
    assert refund(api, session, 1500).status_code == 200
    over = refund(api, session, 501)
    assert over.status_code == 400 and over.json["error"]["param"] == "amount"
    assert refund(api, session, 500).status_code == 200
    done = refund(api, session)
    assert done.status_code == 400 and done.json["error"]["code"] == "charge_already_refunded"
    assert api.session(session["id"])["amount_refunded"] == 2000


def test_refunds_need_a_captured_session(api):
    session = api.authorized_session()
    assert refund(api, session).status_code == 409
    missing = api.post("/refunds", {"payment_session": "ps_missing"})
    assert missing.status_code == 404 and missing.json["error"]["param"] == "payment_session"
    assert api.get("/refunds/re_missing").status_code == 404
    assert api.post("/refunds", {"payment_session": session["id"], "reason": "bored"}).status_code == 400


def test_each_change_records_one_event_with_a_snapshot(api):
    session = api.create_session()
    api.post(f"/payment_sessions/{session['id']}/authorize", {"payment_method": "pm_card_chargeDeclined"})
    api.post(f"/payment_sessions/{session['id']}/authorize", {"payment_method": "pm_card_visa"})
    capture(api, session)
    refund(api, session, 100)
    assert api.event_types() == ["payment_session.payment_failed", "payment_session.authorized",
                                 "payment_session.captured", "refund.succeeded"]
    newest = api.get("/events", limit="1").json
    assert newest["has_more"] is True
    event = newest["data"][0]
    assert event["object"] == "event" and event["id"].startswith("evt_")
    assert event["data"]["object"]["object"] == "refund"
    assert api.get(f"/events/{event['id']}").json == event
    captured = api.get("/events", type="payment_session.captured").json["data"]
    assert [e["data"]["object"]["status"] for e in captured] == ["captured"]
    assert captured[0]["data"]["object"]["amount_refunded"] == 0


def test_event_pagination(api):
    for _ in range(3):
        api.post(f"/payment_sessions/{api.create_session()['id']}/cancel")
    first = api.get("/events", limit="2").json
    second = api.get("/events", limit="2", starting_after=first["data"][-1]["id"]).json
    assert first["has_more"] is True and second["has_more"] is False
    ids = [e["id"] for e in first["data"] + second["data"]]
    assert len(set(ids)) == 3
    assert len(api.get("/events", type="payment_session.*").json["data"]) == 3
    assert api.get("/events", limit="0").status_code == 400
    assert api.get("/events", starting_after="evt_nope").status_code == 400
    assert api.get("/events/evt_nope").status_code == 404



def race(app, api, calls) -> list[int]:
    """Fire (path, body) calls at once from threads; the status codes, sorted."""
    import threading

    barrier, codes = threading.Barrier(len(calls)), []
    headers = {"Authorization": f"Bearer {api.API_KEY}"}

    def call(path, body):
        client = app.test_client()
        barrier.wait()
        codes.append(client.post(path, json=body, headers=headers).status_code)

    threads = [threading.Thread(target=call, args=c) for c in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return sorted(codes)


def test_concurrent_captures_and_voids_have_one_winner(app, api):
    session = api.authorized_session()
    path = f"/v1/payment_sessions/{session['id']}"
    codes = race(app, api, [(f"{path}/capture", {})] * 6 + [(f"{path}/void", {})] * 6)
    assert codes == [200] + [409] * 11
    assert len([t for t in api.event_types() if t != "payment_session.authorized"]) == 1


def test_concurrent_full_refunds_have_one_winner(app, api):
    session = api.authorized_session()
    capture(api, session)
    codes = race(app, api, [("/v1/refunds", {"payment_session": session["id"]})] * 8)
    assert codes == [200] + [400] * 7
    assert api.session(session["id"])["amount_refunded"] == 2500
