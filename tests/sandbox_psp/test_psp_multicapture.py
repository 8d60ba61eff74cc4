"""Multicapture, as Stripe's manual capture with final_capture=false: several partial captures
against one authorization, each under its own idempotency key, then a final capture or a void
of the rest. The session lists every capture it made."""


def capture(api, session, amount=None, final=None, key=None):
    body = {} if amount is None else {"amount": amount}
    if final is not None:
        body["final_capture"] = final
    return api.post(f"/payment_sessions/{session['id']}/capture", body, key=key)


def test_partial_captures_then_a_final_one(api):
    session = api.authorized_session()
    first = capture(api, session, 1000, final=False, key="cap-a")
    assert first.status_code == 200, first.json
    assert first.json["status"] == "partially_captured"
    assert first.json["amount_captured"] == 1000 and first.json["amount_capturable"] == 1500
    second = capture(api, session, 600, final=False, key="cap-b").json
    assert second["amount_captured"] == 1600 and second["amount_capturable"] == 900
    last = capture(api, session, 900, final=True, key="cap-c").json
    assert last["status"] == "captured" and last["amount_capturable"] == 0
    assert [(c["amount"], c["final_capture"]) for c in last["captures"]] == [
        (1000, False), (600, False), (900, True)]
    # The fee is the schedule's on what was captured: its fixed part is charged once.
    assert sum(c["fee"] for c in last["captures"]) == last["fee"]["amount"]
    assert api.event_types()[-3:] == ["payment_session.partially_captured",
                                      "payment_session.partially_captured",
                                      "payment_session.captured"]


def test_a_repeated_key_captures_once(api):
    session = api.authorized_session()
    capture(api, session, 1000, final=False, key="same")
    again = capture(api, session, 1000, final=False, key="same")
    assert again.json["amount_captured"] == 1000 and len(again.json["captures"]) == 1
    assert api.get("/_stats").json["executions"]["same"] == 1


def test_a_capture_beyond_what_is_left_is_refused(api):
    session = api.authorized_session()
    capture(api, session, 2000, final=False)
    refused = capture(api, session, 501, final=False)
    assert refused.status_code == 400 and refused.json["error"]["code"] == "amount_too_large"
    assert api.session(session["id"])["amount_captured"] == 2000


def test_void_after_partial_captures_releases_only_the_rest(api):
    session = api.authorized_session()
    capture(api, session, 1000, final=False)
    voided = api.post(f"/payment_sessions/{session['id']}/void").json
    assert voided["status"] == "captured" and voided["amount_captured"] == 1000
    assert voided["amount_capturable"] == 0
    assert capture(api, session, 100).status_code == 409  # nothing left to capture


def test_a_final_capture_releases_the_rest(api):
    session = api.authorized_session()
    done = capture(api, session, 1000).json  # final by default, as Stripe's
    assert done["status"] == "captured" and done["amount_capturable"] == 0
    assert capture(api, session, 100, final=False).status_code == 409


def test_final_capture_must_be_a_boolean(api):
    session = api.authorized_session()
    response = capture(api, session, 100, final="maybe")
    assert response.status_code == 400 and response.json["error"]["param"] == "final_capture"


def test_captured_part_can_be_refunded_while_the_rest_is_open(api):
    session = api.authorized_session()
    capture(api, session, 1000, final=False)
    refund = api.post("/refunds", {"payment_session": session["id"], "amount": 1000})
    assert refund.status_code == 200, refund.json
    over = api.post("/refunds", {"payment_session": session["id"], "amount": 1})
    assert over.status_code == 400  # only what was captured can go back
