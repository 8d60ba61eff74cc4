"""Test cards: Luhn, brands, fingerprints, and every outcome through pm tokens and the hosted form."""
import datetime

import pytest

from sandbox_psp import cards

DECLINES = {
    "4000000000000002": ("card_declined", "generic_decline", "Your card was declined."),
    "4000000000009995": ("card_declined", "insufficient_funds", "Your card has insufficient funds."),
    "4000000000000069": ("expired_card", "expired_card", "Your card has expired."),
    "4000000000000127": ("incorrect_cvc", "incorrect_cvc", "Your card's security code is incorrect."),
    "4100000000000019": ("card_declined", "fraudulent", "Your card was declined."),
}
TOKEN_DECLINES = {
    "pm_card_chargeDeclined": "4000000000000002",
    "pm_card_chargeDeclinedInsufficientFunds": "4000000000009995",
    "pm_card_chargeDeclinedExpiredCard": "4000000000000069",
    "pm_card_chargeDeclinedIncorrectCvc": "4000000000000127",
    "pm_card_radarBlock": "4100000000000019",
}


@pytest.mark.parametrize("number", ["4242424242424242", "4000002760003184", "4000000000000259",
                                    "4100000000000019", "378282246310005", "79927398713"])
def test_luhn_accepts_valid_numbers(number):
    assert cards.luhn_valid(number)


@pytest.mark.parametrize("number", ["4242424242424241", "4000000000000001", "79927398710", "42424242abcd", ""])
def test_luhn_rejects_invalid_numbers(number):
    assert not cards.luhn_valid(number)


@pytest.mark.parametrize("number, brand", [("4242424242424242", "visa"), ("5555555555554444", "mastercard"),
                                           ("2223003122003222", "mastercard"), ("378282246310005", "amex"),
                                           ("6011111111111117", "discover"), ("3056930009020004", "unknown")])
def test_brand_detection(number, brand):
    assert cards.brand_of(number) == brand


def test_fingerprint_is_keyed_and_stable():
    one = cards.fingerprint("4242424242424242", "key-a")
    assert one == cards.fingerprint("4242424242424242", "key-a")
    assert one != cards.fingerprint("4242424242424242", "key-b")
    assert one != cards.fingerprint("4000000000000002", "key-a")
    assert len(one) == 16 and int(one, 16) >= 0


@pytest.mark.parametrize("number, expiry, cvc, code", [
    ("4242 4242 4242 4241", "12/40", "123", "incorrect_number"),
    ("4242", "12/40", "123", "incorrect_number"),
    ("4242424242424242", "13/40", "123", "invalid_expiry"),
    ("4242424242424242", "1240", "123", "invalid_expiry"),
    ("4242424242424242", "01/20", "123", "invalid_expiry_year"),
    ("4242424242424242", "12/40", "12", "invalid_cvc"),
    ("4242424242424242", "12/40", "12a", "invalid_cvc"),
    ("378282246310005", "12/40", "123", "invalid_cvc"),
])
def test_parse_card_rejects_bad_input(number, expiry, cvc, code):
    with pytest.raises(cards.CardInputError) as raised:
        cards.parse_card(number, expiry, cvc, today=datetime.date(2030, 1, 1))
    assert raised.value.code == code


def test_parse_card_accepts_spaces_and_four_digit_years():
    card = cards.parse_card("4242 4242-4242 4242", " 7 / 2031 ", "123", today=datetime.date(2030, 1, 1))
    assert (card.number, card.exp_month, card.exp_year) == ("4242424242424242", 7, 2031)
    assert "4242424242424242" not in repr(card) and "123" not in repr(card)


# --- server-side authorization with pm_card_* tokens ---

@pytest.mark.parametrize("token", sorted(TOKEN_DECLINES))
def test_declining_tokens_answer_402_and_leave_the_session_open(api, token):
    code, decline_code, message = DECLINES[TOKEN_DECLINES[token]]
    session = api.create_session()
    response = api.post(f"/payment_sessions/{session['id']}/authorize", {"payment_method": token})
    assert response.status_code == 402
    assert response.json["error"] == {"type": "card_error", "code": code, "decline_code": decline_code,
                                      "message": message}
    after = api.session(session["id"])
    assert after["status"] == "open" and after["payment_method"] is None
    error = dict(after["last_payment_error"])
    declined_card = error.pop("payment_method")  # like Stripe's: display data of the card tried
    assert error == {"code": code, "decline_code": decline_code, "message": message}
    assert set(declined_card) == {"brand", "last4", "exp_month", "exp_year", "fingerprint",
                                  "country"}
    assert api.event_types()[-1] == "payment_session.payment_failed"


@pytest.mark.parametrize("token, last4", [("pm_card_visa", "4242"), ("pm_card_createDispute", "0259")])
def test_succeeding_tokens_authorize(app, api, token, last4):
    session = api.create_session()
    response = api.post(f"/payment_sessions/{session['id']}/authorize", {"payment_method": token})
    assert response.status_code == 200
    assert response.json["status"] == "authorized" and response.json["amount_authorized"] == 2500
    method = response.json["payment_method"]
    assert method["brand"] == "visa" and method["last4"] == last4 and len(method["fingerprint"]) == 16
    assert method["exp_year"] > datetime.date.today().year
    with app.app_context():
        from sandbox_psp.models import PaymentSession, db
        assert db.session.get(PaymentSession, session["id"]).dispute_card is (token == "pm_card_createDispute")


def test_three_d_secure_token_requires_action(api):
    session = api.create_session()
    response = api.post(f"/payment_sessions/{session['id']}/authorize",
                        {"payment_method": "pm_card_threeDSecure2Required"})
    assert response.status_code == 200 and response.json["status"] == "requires_action"
    assert api.event_types()[-1] == "payment_session.requires_action"


def test_unknown_token_is_a_400(api):
    session = api.create_session()
    response = api.post(f"/payment_sessions/{session['id']}/authorize", {"payment_method": "pm_card_nope"})
    assert response.status_code == 400 and response.json["error"]["param"] == "payment_method"
    missing = api.post(f"/payment_sessions/{session['id']}/authorize", {})
    assert missing.status_code == 400 and missing.json["error"]["param"] == "payment_method"


def test_a_decline_can_be_followed_by_a_good_card(api):
    session = api.create_session()
    api.post(f"/payment_sessions/{session['id']}/authorize", {"payment_method": "pm_card_chargeDeclined"})
    response = api.post(f"/payment_sessions/{session['id']}/authorize", {"payment_method": "pm_card_visa"})
    assert response.json["status"] == "authorized" and response.json["last_payment_error"] is None
    again = api.post(f"/payment_sessions/{session['id']}/authorize", {"payment_method": "pm_card_visa"})
    assert again.status_code == 409


# --- the hosted page's form ---

@pytest.mark.parametrize("number", ["4242 4242 4242 4242", "4000 0000 0000 0259"])
def test_hosted_success_redirects_to_the_return_url(api, number):
    session = api.create_session()
    response = api.submit_card(session, number)
    assert response.status_code == 303
    assert response.headers["Location"] == f"{api.RETURN_URL}?session_id={session['id']}"
    assert api.session(session["id"])["status"] == "authorized"


def test_hosted_success_keeps_the_return_urls_query(api):
    session = api.create_session(return_url="https://shop.test/back?order=9&x=1")
    response = api.submit_card(session, "4242424242424242")
    assert response.headers["Location"] == f"https://shop.test/back?order=9&x=1&session_id={session['id']}"


@pytest.mark.parametrize("number", sorted(DECLINES))
def test_hosted_decline_shows_the_reason_and_the_form_again(api, number):
    code, decline_code, message = DECLINES[number]
    session = api.create_session()
    response = api.submit_card(session, number)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert message.replace("'", "&#39;") in page
    assert 'for="card-number"' in page and "Pay €25.00" in page
    assert number not in page
    after = api.session(session["id"])
    assert after["status"] == "open" and after["last_payment_error"]["decline_code"] == decline_code
    assert api.submit_card(session, "4242424242424242").status_code == 303


def test_hosted_three_d_secure_card_goes_to_the_challenge(api, client):
    session = api.create_session()
    response = api.submit_card(session, "4000 0027 6000 3184")
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/pay/{session['id']}/3ds")
    page = client.get(f"/pay/{session['id']}/3ds").get_data(as_text=True)
    assert "Complete authentication" in page and "Fail authentication" in page


def test_luhn_failure_is_refused_before_the_issuer(api):
    session = api.create_session()
    response = api.submit_card(session, "4242 4242 4242 4241")
    assert response.status_code == 200
    assert "Your card number is incorrect." in response.get_data(as_text=True)
    after = api.session(session["id"])
    assert after["status"] == "open" and after["last_payment_error"] is None
    assert api.event_types() == []


def test_a_non_test_card_is_declined(api):
    session = api.create_session()
    response = api.submit_card(session, "4111 1111 1111 1111")
    assert response.status_code == 200
    assert api.session(session["id"])["last_payment_error"]["decline_code"] == "test_mode_live_card"


@pytest.mark.parametrize("field, value, text", [
    ("expiry", "01/20", "in the past"), ("expiry", "nope", "expiry date"), ("cvc", "1", "security code")])
def test_bad_expiry_or_cvc_re_renders_the_form(api, field, value, text):
    session = api.create_session()
    response = api.submit_card(session, "4242424242424242", **{field: value})
    assert response.status_code == 200 and text in response.get_data(as_text=True)
    assert api.session(session["id"])["status"] == "open"


def test_a_post_without_the_form_token_is_refused(api, client):
    session = api.create_session()
    for token in (None, "forged"):
        data = {"card_number": "4242424242424242", "expiry": api.FUTURE_EXPIRY, "cvc": "123"}
        if token:
            data["form_token"] = token
        assert client.post(f"/pay/{session['id']}", data=data).status_code == 403
    assert api.session(session["id"])["status"] == "open"


def test_paying_a_canceled_session_changes_nothing(api, client):
    session = api.create_session()
    token = api.form_token(api.page(session).text)
    api.post(f"/payment_sessions/{session['id']}/cancel")
    response = client.post(f"/pay/{session['id']}", data={
        "form_token": token, "card_number": "4242424242424242", "expiry": api.FUTURE_EXPIRY, "cvc": "123"})
    assert response.status_code == 303
    assert "canceled" in client.get(f"/pay/{session['id']}").get_data(as_text=True)
    assert api.session(session["id"])["status"] == "canceled"
