"""The balance: captured − refunded − fees − payouts not failed, per currency."""
from sandbox_psp import deliver_due

IBAN = "DE89370400440532013000"
CLOSED_IBAN = "DE62370400440532013001"


def capture(api, amount, currency="eur", mode="hosted"):
    """A captured session; hosted fee 2.9 % + 30, embedded 2.5 % + 25."""
    return api.authorized_session(amount=amount, currency=currency, mode=mode, capture_method="automatic")


def payout(api, amount, currency="eur", iban=IBAN):
    response = api.post("/payouts", {"amount": amount, "currency": currency,
                                      "destination": {"iban": iban}, "holder_name": "Sam Seller"})
    assert response.status_code == 200, response.json
    return response.json


def available(api) -> dict:
    answer = api.get("/balance").json
    assert answer["object"] == "balance"
    return {entry["currency"]: entry["amount"] for entry in answer["available"]}


def test_an_empty_sandbox_has_no_balance(api):
    assert api.get("/balance").json == {"object": "balance", "available": []}


def test_uncaptured_money_is_not_in_the_balance(api):
    api.authorized_session(amount=10_000)  # manual capture: authorized only
    api.create_session(amount=5_000)
    assert available(api) == {}


def test_balance_is_captured_minus_refunded_fees_and_payouts_per_currency(app, api):
    paid = capture(api, 10_000)  # fee 290 + 30
    capture(api, 4_000, mode="embedded")  # fee 100 + 25
    capture(api, 2_000, currency="usd")  # fee 58 + 30
    api.post("/refunds", {"payment_session": paid["id"], "amount": 1_000})
    assert available(api) == {"eur": 10_000 - 320 + 4_000 - 125 - 1_000, "usd": 2_000 - 88}
    payout(api, 500)
    failing = payout(api, 700, iban=CLOSED_IBAN)
    assert available(api)["eur"] == 12_555 - 500 - 700  # pending payouts are spent already
    deliver_due(app, now=failing["arrival_date"])
    assert available(api) == {"eur": 12_555 - 500, "usd": 1_912}  # the failed one came back


def test_a_partial_capture_counts_what_was_captured(api):
    session = api.authorized_session(amount=10_000)
    api.post(f"/payment_sessions/{session['id']}/capture", {"amount": 6_000})
    assert available(api) == {"eur": 6_000 - 174 - 30}


def test_refunding_paid_out_money_can_make_the_balance_negative(api):
    session = capture(api, 10_000)
    payout(api, 9_680)
    api.post("/refunds", {"payment_session": session["id"]})
    assert available(api) == {"eur": -10_000}  # Stripe lets the balance go negative too
    refused = api.post("/payouts", {"amount": 1, "currency": "eur", "destination": {"iban": IBAN},
                                    "holder_name": "Sam Seller"})
    assert refused.status_code == 400 and refused.json["error"]["code"] == "balance_insufficient"


def test_the_balance_needs_the_api_key(client):
    assert client.get("/v1/balance").status_code == 401
