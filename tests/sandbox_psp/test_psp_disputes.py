"""Disputes: opened by the dispute card's capture, answered with evidence, decided won or lost."""
import hashlib
import hmac
import re
import time

import pytest

from sandbox_psp import deliver_due, disputes

DISPUTE_CARD = "4000000000000259"
WEEK = 7 * 24 * 3600


def disputed_session(api, amount=10_000, capture_method="automatic"):
    """A session paid with pm_card_createDispute (captured at once unless manual)."""
    session = api.create_session(amount=amount, capture_method=capture_method)
    response = api.post(f"/payment_sessions/{session['id']}/authorize",
                        {"payment_method": "pm_card_createDispute"})
    assert response.status_code == 200, response.json
    return response.json


def dispute_of(api, session) -> dict:
    found = api.get("/disputes", payment_session=session["id"]).json["data"]
    assert len(found) == 1
    return found[0]


def open_dispute(api, **kwargs) -> dict:
    return dispute_of(api, disputed_session(api, **kwargs))


def available(api) -> dict:
    return {entry["currency"]: entry["amount"] for entry in api.get("/balance").json["available"]}


def verify(header: str, body: bytes, secret: str) -> bool:
    fields = dict(part.split("=", 1) for part in header.split(","))
    expected = hmac.new(secret.encode(), f"{fields['t']}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields["v1"])


# --- opening -----------------------------------------------------------------------------------

def test_capturing_the_dispute_card_opens_a_needs_response_dispute(api):
    before = int(time.time())
    session = disputed_session(api, amount=10_000)
    dispute = dispute_of(api, session)
    assert re.fullmatch(r"dp_[0-9a-f]{24}", dispute["id"])
    assert dispute == {
        "id": dispute["id"], "object": "dispute", "payment_session": session["id"],
        "amount": 10_000, "currency": "eur", "reason": "fraudulent", "status": "needs_response",
        "fee": {"amount": 1500, "currency": "eur"}, "evidence": {},
        "evidence_details": {"due_by": dispute["created"] + WEEK, "submission_count": 0},
        "created": dispute["created"], "livemode": False}
    assert before <= dispute["created"] <= time.time()
    assert api.get(f"/disputes/{dispute['id']}").json == dispute
    assert api.event_types()[-2:] == ["payment_session.captured", "dispute.created"]


def test_the_dispute_opens_on_capture_not_on_authorization_and_covers_what_was_captured(api):
    session = disputed_session(api, amount=10_000, capture_method="manual")
    assert api.get("/disputes", payment_session=session["id"]).json["data"] == []
    api.post(f"/payment_sessions/{session['id']}/capture", {"amount": 6_000})
    assert dispute_of(api, session)["amount"] == 6_000


def test_the_dispute_card_typed_on_the_hosted_page_opens_a_dispute(api):
    session = api.create_session(capture_method="automatic")
    assert api.submit_card(session, DISPUTE_CARD).status_code == 303
    assert dispute_of(api, session)["status"] == "needs_response"


def test_a_normal_card_opens_no_dispute(api):
    api.authorized_session(capture_method="automatic")
    assert api.get("/disputes").json["data"] == []
    assert "dispute.created" not in api.event_types()


def test_dispute_created_is_delivered_signed(app, api, receiver):
    dispute = open_dispute(api)
    deliver_due(app)
    request = next(r for r in receiver.requests if b'"dispute.created"' in r["body"])
    assert verify(request["headers"]["Sandbox-Signature"], request["body"], api.WEBHOOK_SECRET)
    event = next(e for e in receiver.events() if e["type"] == "dispute.created")
    assert event["data"]["object"] == dispute


def test_unknown_disputes_answer_404_and_the_api_needs_a_key(api, client):
    missing = api.get("/disputes/dp_nope")
    assert missing.status_code == 404 and missing.json["error"]["code"] == "resource_missing"
    assert api.post("/disputes/dp_nope", {"submit": True}).status_code == 404
    assert api.post("/test_helpers/disputes/dp_nope/close", {"outcome": "won"}).status_code == 404
    assert client.get("/v1/disputes").status_code == 401
    assert client.post("/v1/test_helpers/disputes/dp_nope/close", json={"outcome": "won"}).status_code == 401


# --- the balance -------------------------------------------------------------------------------

CAPTURED_LESS_FEE = 10_000 - 320  # hosted: 2.9 % + 30


def test_an_open_dispute_withdraws_its_amount_and_fee(api):
    open_dispute(api, amount=10_000)
    assert available(api) == {"eur": CAPTURED_LESS_FEE - 10_000 - 1500}


@pytest.mark.parametrize("outcome, balance", [("won", CAPTURED_LESS_FEE),
                                              ("lost", CAPTURED_LESS_FEE - 10_000 - 1500)])
def test_a_won_dispute_returns_amount_and_fee_a_lost_one_keeps_them(api, outcome, balance):
    dispute = open_dispute(api, amount=10_000)
    api.post(f"/disputes/{dispute['id']}", {"evidence": {"uncategorized_text": "Delivered."}})
    assert available(api) == {"eur": CAPTURED_LESS_FEE - 11_500}  # under review: still withdrawn
    api.post(f"/test_helpers/disputes/{dispute['id']}/close", {"outcome": outcome})
    assert available(api) == {"eur": balance}


def test_a_disputed_session_cannot_be_refunded_until_won(api):
    dispute = open_dispute(api)
    refused = api.post("/refunds", {"payment_session": dispute["payment_session"]})
    assert refused.status_code == 400 and refused.json["error"]["code"] == "charge_disputed"
    api.post(f"/test_helpers/disputes/{dispute['id']}/close", {"outcome": "won"})
    assert api.post("/refunds", {"payment_session": dispute["payment_session"]}).status_code == 200


# --- evidence ----------------------------------------------------------------------------------

def test_submitting_evidence_puts_the_dispute_under_review(api):
    dispute = open_dispute(api)
    evidence = {"customer_name": "Ada Buyer", "shipping_tracking_number": "1Z999"}
    answer = api.post(f"/disputes/{dispute['id']}", {"evidence": evidence, "submit": True})
    assert answer.status_code == 200
    assert answer.json["status"] == "under_review" and answer.json["evidence"] == evidence
    assert answer.json["evidence_details"]["submission_count"] == 1
    assert api.event_types()[-1] == "dispute.updated"
    assert api.get("/events", type="dispute.updated").json["data"][0]["data"]["object"] == answer.json


def test_staged_evidence_is_merged_and_submitted_later(api):
    dispute = open_dispute(api)
    staged = api.post(f"/disputes/{dispute['id']}", {"evidence": {"customer_name": "Ada"}, "submit": False})
    assert staged.json["status"] == "needs_response"
    assert staged.json["evidence_details"]["submission_count"] == 0
    sent = api.post(f"/disputes/{dispute['id']}", {"evidence": {"product_description": "A mug"}})
    assert sent.json["status"] == "under_review"  # submit defaults to true, as at Stripe
    assert sent.json["evidence"] == {"customer_name": "Ada", "product_description": "A mug"}
    assert api.event_types().count("dispute.updated") == 2


@pytest.mark.parametrize("body, param, code", [
    ({"evidence": {"receipt": "file_1"}}, "evidence[receipt]", "parameter_unknown"),
    ({"evidence": {"customer_name": 42}}, "evidence[customer_name]", "parameter_invalid"),
    ({"evidence": {"customer_name": "x" * 20_001}}, "evidence[customer_name]", "parameter_invalid"),
    ({"evidence": "all of it"}, "evidence", "parameter_invalid"),
    ({"submit": "yes"}, "submit", "parameter_invalid"),
    ({"status": "won"}, "status", "parameter_unknown"),
])
def test_bad_evidence_is_refused_and_changes_nothing(api, body, param, code):
    dispute = open_dispute(api)
    answer = api.post(f"/disputes/{dispute['id']}", body)
    assert answer.status_code == 400
    assert (answer.json["error"]["param"], answer.json["error"]["code"]) == (param, code)
    assert api.get(f"/disputes/{dispute['id']}").json == dispute


def test_evidence_is_refused_once_submitted(api):
    dispute = open_dispute(api)
    api.post(f"/disputes/{dispute['id']}", {"evidence": {"customer_name": "Ada"}})
    again = api.post(f"/disputes/{dispute['id']}", {"evidence": {"customer_name": "Bob"}})
    assert again.status_code == 409 and again.json["error"]["code"] == "dispute_unexpected_state"
    assert "under_review" in again.json["error"]["message"]


def test_evidence_is_refused_after_due_by(api, monkeypatch):
    dispute = open_dispute(api)
    due_by = dispute["evidence_details"]["due_by"]
    monkeypatch.setattr(disputes, "now", lambda: due_by)
    late = api.post(f"/disputes/{dispute['id']}", {"evidence": {"customer_name": "Ada"}})
    assert late.status_code == 409 and late.json["error"]["code"] == "dispute_past_due"
    assert api.get(f"/disputes/{dispute['id']}").json == dispute
    # The issuer can still decide it (lost, as a dispute left unanswered would be).
    closed = api.post(f"/test_helpers/disputes/{dispute['id']}/close", {"outcome": "lost"})
    assert closed.json["status"] == "lost"


def test_evidence_with_an_idempotency_key_is_applied_once(api):
    dispute = open_dispute(api)
    body = {"evidence": {"customer_name": "Ada"}, "submit": True}
    first = api.post(f"/disputes/{dispute['id']}", body, key="evidence-1")
    replay = api.post(f"/disputes/{dispute['id']}", body, key="evidence-1")
    assert replay.headers["Idempotent-Replayed"] == "true" and replay.json == first.json
    assert replay.json["evidence_details"]["submission_count"] == 1
    other = api.post(f"/disputes/{dispute['id']}", {"evidence": {"customer_name": "Bob"}}, key="evidence-1")
    assert other.status_code == 400 and other.json["error"]["code"] == "idempotency_key_reused"
    assert api.get("/_stats").json["executions"]["evidence-1"] == 1
    assert api.event_types().count("dispute.updated") == 1


# --- closing -----------------------------------------------------------------------------------

@pytest.mark.parametrize("submitted", [False, True])
@pytest.mark.parametrize("outcome", ["won", "lost"])
def test_the_close_helper_decides_an_open_dispute(app, api, receiver, outcome, submitted):
    dispute = open_dispute(api)
    if submitted:
        api.post(f"/disputes/{dispute['id']}", {"evidence": {"customer_name": "Ada"}})
    closed = api.post(f"/test_helpers/disputes/{dispute['id']}/close", {"outcome": outcome})
    assert closed.status_code == 200 and closed.json["status"] == outcome
    deliver_due(app)
    event = receiver.events()[-1]
    assert event["type"] == "dispute.closed" and event["data"]["object"] == closed.json


def test_closing_twice_is_refused(api):
    dispute = open_dispute(api)
    api.post(f"/test_helpers/disputes/{dispute['id']}/close", {"outcome": "won"})
    again = api.post(f"/test_helpers/disputes/{dispute['id']}/close", {"outcome": "lost"})
    assert again.status_code == 409 and again.json["error"]["code"] == "dispute_unexpected_state"
    assert "status is won" in again.json["error"]["message"]
    assert api.get(f"/disputes/{dispute['id']}").json["status"] == "won"
    assert api.event_types().count("dispute.closed") == 1
    late = api.post(f"/disputes/{dispute['id']}", {"evidence": {"customer_name": "Ada"}})
    assert late.status_code == 409


@pytest.mark.parametrize("body, code", [({}, "parameter_missing"), ({"outcome": "draw"}, "parameter_invalid"),
                                        ({"outcome": "won", "fee": 0}, "parameter_unknown")])
def test_the_close_helper_checks_its_outcome(api, body, code):
    dispute = open_dispute(api)
    answer = api.post(f"/test_helpers/disputes/{dispute['id']}/close", body)
    assert answer.status_code == 400 and answer.json["error"]["code"] == code
    assert api.get(f"/disputes/{dispute['id']}").json["status"] == "needs_response"


def test_the_list_filters_by_session_newest_first(api):
    first, second = open_dispute(api), open_dispute(api)
    assert [d["id"] for d in api.get("/disputes").json["data"]] == [second["id"], first["id"]]
    assert [d["id"] for d in api.get("/disputes", payment_session=first["payment_session"]).json["data"]] \
        == [first["id"]]


# --- the dashboard -----------------------------------------------------------------------------

def dashboard_form(client, dispute_id):
    page = client.get("/").text
    match = re.search(rf'action="/disputes/{dispute_id}/close"[^>]*>\s*'
                      r'<input type="hidden" name="form_token" value="([^"]+)"', page)
    return page, match.group(1) if match else None


@pytest.mark.parametrize("outcome", ["won", "lost"])
def test_the_dashboard_buttons_decide_an_open_dispute(api, client, outcome):
    dispute = open_dispute(api)
    page, token = dashboard_form(client, dispute["id"])
    assert "Mark won" in page and "Mark lost" in page and dispute["id"] in page
    response = client.get("/")
    assert "form-action 'self'" in response.headers["Content-Security-Policy"]
    answer = client.post(f"/disputes/{dispute['id']}/close", data={"form_token": token, "outcome": outcome})
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/")
    assert api.get(f"/disputes/{dispute['id']}").json["status"] == outcome
    assert api.event_types()[-1] == "dispute.closed"
    page, token = dashboard_form(client, dispute["id"])
    assert token is None and "Mark won" not in page  # no buttons for a closed dispute


def test_the_dashboard_buttons_need_the_form_token(api, client):
    dispute = open_dispute(api)
    _, token = dashboard_form(client, dispute["id"])
    assert client.post(f"/disputes/{dispute['id']}/close", data={"outcome": "won"}).status_code == 403
    assert client.post(f"/disputes/{dispute['id']}/close",
                       data={"form_token": "forged", "outcome": "won"}).status_code == 403
    assert client.post(f"/disputes/{dispute['id']}/close",
                       data={"form_token": token, "outcome": "draw"}).status_code == 400
    assert client.post("/disputes/dp_nope/close", data={"form_token": token, "outcome": "won"}).status_code == 404
    assert api.get(f"/disputes/{dispute['id']}").json["status"] == "needs_response"


def test_a_dashboard_button_on_an_already_closed_dispute_changes_nothing(api, client):
    dispute = open_dispute(api)
    _, token = dashboard_form(client, dispute["id"])
    api.post(f"/test_helpers/disputes/{dispute['id']}/close", {"outcome": "lost"})
    answer = client.post(f"/disputes/{dispute['id']}/close", data={"form_token": token, "outcome": "won"})
    assert answer.status_code == 303
    assert api.get(f"/disputes/{dispute['id']}").json["status"] == "lost"
    assert api.event_types().count("dispute.closed") == 1
