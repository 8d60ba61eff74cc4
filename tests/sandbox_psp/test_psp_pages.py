"""The buyer's pages: form, framing and script rules, the iframe's postMessage, and card-data hygiene."""
import html
import json
import logging
import re
from pathlib import Path

from sandbox_psp import deliver_due

PAN, CVC = "4242424242424242", "737"


def csp(response) -> dict:
    directives = [d.strip().split(" ", 1) for d in response.headers["Content-Security-Policy"].split(";")]
    return {d[0]: (d[1] if len(d) > 1 else "") for d in directives}


def posted_message(page: str) -> tuple[dict, str]:
    """The message and target origin the embed page's script will post."""
    node = re.search(r'<div id="holdfast-result"[^>]*data-origin="([^"]*)"\s+data-message="([^"]*)"', page)
    return json.loads(html.unescape(node.group(2))), html.unescape(node.group(1))


def test_hosted_form_has_labelled_fields_and_a_pay_button(api):
    page = api.page(api.create_session()).text
    for field_id, label in [("card-number", "Card number"), ("card-expiry", "Expiry"),
                            ("card-cvc", "CVC"), ("card-name", "Name on card")]:
        assert f'<label for="{field_id}">{label}</label>' in page
        assert f'id="{field_id}"' in page
    assert 'placeholder="MM/YY"' in page
    assert re.search(r'<button type="submit" class="primary">Pay €25.00</button>', page)
    assert '<a href="http://127.0.0.1:5000/checkout/42/cancel">Cancel and return</a>' in page


def test_amounts_show_in_the_currency(api):
    page = api.page(api.create_session(amount=1999, currency="usd")).text
    assert "Pay $19.99" in page
    assert "Pay ¥500" in api.page(api.create_session(amount=500, currency="jpy")).text


def test_hosted_pages_may_not_be_framed(api, client):
    session = api.create_session()
    api.submit_card(session, "4000002760003184")
    for response in (api.page(api.create_session()), client.get(f"/pay/{session['id']}/3ds"), client.get("/")):
        policy = csp(response)
        assert policy["frame-ancestors"] == "'none'"
        assert policy["script-src" if "script-src" in policy else "default-src"] in ("'self'", "'none'")
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert api.page(api.create_session()).headers["X-Frame-Options"] == "DENY"


def test_embed_pages_may_be_framed_by_the_platform_only(api, client):
    session = api.create_session(mode="embedded")
    form = api.page(session, "embed")
    api.submit_card(session, "4000002760003184", kind="embed")
    challenge = client.get(f"/embed/{session['id']}/3ds")
    result = api.answer_challenge(session, "complete", kind="embed")
    for response in (form, challenge, result):
        assert response.status_code == 200
        policy = csp(response)
        assert policy["frame-ancestors"] == api.PLATFORM_ORIGIN
        assert policy["script-src"] == "'self'"
        assert "X-Frame-Options" not in response.headers
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_pages_have_no_inline_script_or_handlers(api, client):
    session = api.create_session(mode="embedded")
    api.submit_card(session, "4000000000000002", kind="embed")
    pages = [api.page(api.create_session()).text, api.submit_card(session, "4242424242424242", kind="embed").text,
             client.get("/").text]
    for page in pages:
        assert not re.search(r"<script(?![^>]*\bsrc=)", page)
        assert not re.search(r"\son[a-z]+\s*=", page)


def test_each_page_serves_only_its_own_mode(api, client):
    hosted, embedded = api.create_session(), api.create_session(mode="embedded")
    assert client.get(f"/embed/{hosted['id']}").status_code == 404
    assert client.get(f"/pay/{embedded['id']}").status_code == 404
    assert client.get("/pay/ps_unknown").status_code == 404


def test_embed_success_posts_the_result_to_the_parent_origin(api):
    session = api.create_session(mode="embedded", capture_method="automatic")
    response = api.submit_card(session, "4242 4242 4242 4242", kind="embed")
    assert response.status_code == 200
    message, origin = posted_message(response.text)
    assert origin == api.PLATFORM_ORIGIN
    assert message == {"source": "holdfast-sandbox", "type": "payment_session.result", "session": session["id"],
                       "status": "captured", "code": None, "decline_code": None, "message": None}
    assert 'src="/static/embed.js"' in response.text


def test_embed_decline_posts_declined_and_shows_the_form_again(api):
    session = api.create_session(mode="embedded")
    response = api.submit_card(session, "4000 0000 0000 9995", kind="embed")
    assert response.status_code == 200
    message, origin = posted_message(response.text)
    assert origin == api.PLATFORM_ORIGIN
    assert (message["status"], message["code"], message["decline_code"]) == (
        "declined", "card_declined", "insufficient_funds")
    assert message["message"] == "Your card has insufficient funds."
    assert "Your card has insufficient funds." in response.text and 'for="card-number"' in response.text


def test_embed_three_d_secure_failure_posts_declined(api):
    session = api.create_session(mode="embedded")
    api.submit_card(session, "4000002760003184", kind="embed")
    message, _ = posted_message(api.answer_challenge(session, "fail", kind="embed").text)
    assert (message["status"], message["code"]) == ("declined", "authentication_failed")


def test_embed_cancel_button_cancels_and_tells_the_parent(api, client):
    session = api.create_session(mode="embedded")
    token = api.form_token(api.page(session, "embed").text)
    response = client.post(f"/embed/{session['id']}/cancel", data={"form_token": token}, follow_redirects=True)
    message, _ = posted_message(response.text)
    assert message["status"] == "canceled"
    assert api.session(session["id"])["status"] == "canceled"
    assert client.post(f"/embed/{api.create_session(mode='embedded')['id']}/cancel").status_code == 403


def test_embed_script_targets_the_given_origin_never_a_wildcard():
    script = (Path(__file__).parents[2] / "sandbox_psp" / "static" / "embed.js").read_text()
    assert "postMessage(message, node.getAttribute(\"data-origin\"))" in script
    assert '"*"' not in script.replace('never "*"', "") and "'*'" not in script


def test_a_paid_hosted_session_offers_the_way_back(api):
    session = api.create_session()
    api.submit_card(session, "4242424242424242")
    page = api.page(session).text
    assert "Payment successful" in page and f"session_id={session['id']}" in page


def test_card_number_and_cvc_are_never_stored_or_logged(app, api, client, db_path, caplog):
    caplog.set_level(logging.DEBUG)
    cards_used = [PAN, "4000000000009995", "4000002760003184", "4000000000000259", "4242424242424241"]
    sessions = []
    for number in cards_used:
        for mode, kind in (("hosted", "pay"), ("embedded", "embed")):
            session = api.create_session(mode=mode)
            api.submit_card(session, " ".join(re.findall(".{4}", number)), cvc=CVC, kind=kind)
            if number == "4000002760003184":
                api.answer_challenge(session, "complete", kind=kind)
            sessions.append(api.session(session["id"]))
    deliver_due(app)
    # The scan looks at real rows: payments went through and their display data is stored.
    assert [s["payment_method"]["last4"] for s in sessions if s["payment_method"]] == ["4242", "4242", "3184",
                                                                                      "3184", "0259", "0259"]
    blobs = [p.read_bytes() for p in db_path.parent.iterdir() if p.name.startswith(db_path.name)]
    assert any(b"3184" in blob for blob in blobs)
    logs = caplog.text.encode()
    for blob in blobs + [logs]:
        for number in cards_used:
            assert number.encode() not in blob
            assert " ".join(re.findall(".{4}", number)).encode() not in blob
        assert b"cvc" not in blob.lower()
        assert f'"{CVC}"'.encode() not in blob and f"={CVC}".encode() not in blob
