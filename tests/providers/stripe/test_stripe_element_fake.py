"""The fake's Payment Element over HTTP, as the browser meets it: stripe.js, the iframe's
confirm (publishable key and client secret checked) and the 3-D Secure page."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import requests

from tests.providers.stripe.conftest import session_request

RETURN = "http://127.0.0.1:9/checkout/1/return"


def _intent(stripe_provider, fake) -> dict:
    return fake.objects[stripe_provider.create_session(session_request(mode="embedded"))
                        .reference]


def _confirm(fake, intent: dict, number: str, **overrides) -> requests.Response:
    body = {"key": fake.publishable_key, "client_secret": intent["client_secret"],
            "return_url": RETURN, "number": number, "expiry": "12/30", "cvc": "123",
            **overrides}
    return requests.post(f"{fake.public_url}/elements/confirm", json=body, timeout=5)


def test_stripe_js_and_the_card_frame_are_served_from_the_fakes_origin(fake):
    script = requests.get(f"{fake.public_url}/v3/", timeout=5)
    assert script.status_code == 200 and script.headers["Content-Type"].startswith(
        "text/javascript")
    assert "window.Stripe" in script.text and "confirmPayment" in script.text
    frame = requests.get(f"{fake.public_url}/elements/payment", timeout=5)
    assert frame.status_code == 200 and 'autocomplete="cc-number"' in frame.text


def test_confirm_needs_the_publishable_key_and_the_intents_own_secret(stripe_provider, fake):
    intent, other = _intent(stripe_provider, fake), _intent(stripe_provider, fake)
    assert _confirm(fake, intent, "4242424242424242", key="pk_test_wrong").status_code == 401
    assert _confirm(fake, intent, "4242424242424242",
                    client_secret=other["client_secret"].replace(other["id"], intent["id"])
                    ).status_code == 404
    assert _confirm(fake, intent, "4242424242424242", return_url="/relative").status_code == 400
    assert intent["status"] == "requires_payment_method"  # none of those touched it


def test_a_confirmed_card_redirects_with_stripes_query_and_cannot_be_confirmed_twice(
        stripe_provider, fake):
    intent = _intent(stripe_provider, fake)
    answer = _confirm(fake, intent, "4242 4242 4242 4242")
    assert answer.status_code == 200
    url = urlsplit(answer.json()["redirect"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == RETURN
    assert parse_qs(url.query) == {"payment_intent": [intent["id"]],
                                   "payment_intent_client_secret": [intent["client_secret"]],
                                   "redirect_status": ["succeeded"]}
    assert intent["status"] == "requires_capture"
    again = _confirm(fake, intent, "4242424242424242")
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "payment_intent_unexpected_state"


def test_a_declined_card_answers_the_error_and_stays_payable(stripe_provider, fake):
    intent = _intent(stripe_provider, fake)
    answer = _confirm(fake, intent, "4000000000000002")
    assert answer.status_code == 402
    assert answer.json()["error"]["decline_code"] == "generic_decline"
    assert _confirm(fake, intent, "4242424242424241").json()["error"]["code"] == \
        "incorrect_number"  # fails Luhn: nothing charged
    assert _confirm(fake, intent, "4242424242424242").status_code == 200


def test_three_d_secure_goes_through_the_challenge_page(stripe_provider, fake):
    intent = _intent(stripe_provider, fake)
    challenge = _confirm(fake, intent, "4000002760003184").json()["redirect"]
    assert challenge == f"{fake.public_url}/elements/3ds/{intent['id']}"
    assert intent["status"] == "requires_action"
    assert "Complete authentication" in requests.get(challenge, timeout=5).text
    done = requests.post(challenge, data={"outcome": "pass"}, allow_redirects=False, timeout=5)
    assert done.status_code == 303 and done.headers["Location"].startswith(RETURN + "?")
    assert "redirect_status=succeeded" in done.headers["Location"]
    assert intent["status"] == "requires_capture"
    assert requests.post(challenge, data={"outcome": "pass"}, timeout=5).status_code == 409
