"""Balance transactions: one per money movement, their sum is the balance, listed like Stripe's
and reported as a daily settlement CSV; the dashboard's out-of-band movements are among them."""
import csv
import datetime
import io
import re

from sandbox_psp import deliver_due

IBAN = "DE89370400440532013000"
CLOSED_IBAN = "DE62370400440532013001"


def capture(api, amount, currency="eur", mode="hosted", **extra):
    return api.authorized_session(amount=amount, currency=currency, mode=mode,
                                  capture_method="automatic", **extra)


def payout(api, amount, iban=IBAN):
    response = api.post("/payouts", {"amount": amount, "currency": "eur",
                                      "destination": {"iban": iban}, "holder_name": "Sam Seller"})
    assert response.status_code == 200, response.json
    return response.json


def listing(api, **query) -> list[dict]:
    answer = api.get("/balance_transactions", **query)
    assert answer.status_code == 200, answer.json
    assert answer.json["object"] == "list"
    return answer.json["data"]


def balance(api) -> dict:
    return {e["currency"]: e["amount"] for e in api.get("/balance").json["available"]}


def test_every_movement_has_a_balance_transaction_and_they_sum_to_the_balance(app, api):
    paid = capture(api, 10_000)                       # fee 290 + 30
    refund = api.post("/refunds", {"payment_session": paid["id"], "amount": 1_000}).json
    assert api.post(f"/test_helpers/refunds/{refund['id']}/fail").status_code == 200
    out = payout(api, 500)
    returned = payout(api, 700, iban=CLOSED_IBAN)
    deliver_due(app, now=returned["arrival_date"])
    api.post("/test_helpers/balance_adjustments", {"amount": -250, "currency": "eur",
                                                    "description": "Correction"})
    txns = listing(api, limit=100)
    kinds = [(t["type"], t["source"], t["amount"], t["fee"], t["net"]) for t in reversed(txns)]
    assert kinds == [
        ("charge", paid["id"], 10_000, 320, 9_680),
        ("refund", refund["id"], -1_000, 0, -1_000),
        ("refund_failure", refund["id"], 1_000, 0, 1_000),
        ("payout", out["id"], -500, 0, -500),
        ("payout", returned["id"], -700, 0, -700),
        ("payout_failure", returned["id"], 700, 0, 700),
        ("adjustment", None, -250, 0, -250),
    ]
    assert sum(t["net"] for t in txns) == balance(api)["eur"] == 9_680 - 500 - 250
    assert all(re.fullmatch(r"txn_[0-9a-f]{24}", t["id"]) for t in txns)
    assert {t["payout"] for t in txns if t["type"].startswith("payout")} == {out["id"], returned["id"]}


def test_disputes_and_their_reversal_move_amount_and_fee(app, api):
    session = api.create_session(amount=4_000, capture_method="automatic")
    answer = api.post(f"/payment_sessions/{session['id']}/authorize",
                      {"payment_method": "pm_card_createDispute"})
    assert answer.status_code == 200, answer.json
    dispute = api.get("/disputes", payment_session=session["id"]).json["data"][0]
    assert api.post(f"/test_helpers/disputes/{dispute['id']}/close",
                    {"outcome": "won"}).status_code == 200
    moved = {t["type"]: (t["amount"], t["fee"], t["net"]) for t in listing(api)}
    assert moved["dispute"] == (-4_000, 1_500, -5_500)
    assert moved["dispute_reversal"] == (4_000, -1_500, 5_500)
    assert sum(v[2] for v in moved.values()) == balance(api)["eur"]


def test_the_list_filters_by_payout_type_and_created_and_pages(api):
    for amount in (1_000, 2_000, 3_000):
        capture(api, amount)
    out = payout(api, 100)
    assert [t["id"] for t in listing(api, payout=out["id"])] == [
        t["id"] for t in listing(api, type="payout")]
    first = listing(api, limit=2)
    second = api.get("/balance_transactions", limit=2, starting_after=first[-1]["id"]).json
    assert [t["amount"] for t in first] == [-100, 3_000]
    assert [t["amount"] for t in second["data"]] == [2_000, 1_000] and not second["has_more"]
    created = first[0]["created"]
    assert listing(api, **{"created[gte]": created + 10}) == []
    assert len(listing(api, **{"created[gte]": created - 100, "created[lt]": created + 1})) == 4
    bad = api.get("/balance_transactions", **{"created[gte]": "yesterday"})
    assert bad.status_code == 400 and bad.json["error"]["param"] == "created[gte]"


def test_the_daily_settlement_report_lists_that_days_transactions_as_csv(api, client):
    paid = capture(api, 10_000)
    day = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    answer = api.get("/reports/settlement", date=day)
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))
    assert [(r["balance_transaction_type"], r["source_id"], r["gross"], r["fee"], r["net"])
            for r in rows] == [("charge", paid["id"], "10000", "320", "9680")]
    assert rows[0]["reporting_category"] == "charge" and rows[0]["currency"] == "eur"
    assert list(csv.DictReader(io.StringIO(
        api.get("/reports/settlement", date="2001-01-01").get_data(as_text=True)))) == []
    assert api.get("/reports/settlement", date="01/01/2001").status_code == 400


def test_a_repriced_fee_changes_the_charge_and_the_balance(api):
    paid = capture(api, 10_000)
    answer = api.post(f"/test_helpers/payment_sessions/{paid['id']}/fee", {"fee": 400})
    assert answer.status_code == 200
    assert (answer.json["type"], answer.json["source"], answer.json["charge"]) == (
        "fee", paid["id"], paid["id"])
    assert (answer.json["fee"], answer.json["net"]) == (80, -80)  # the charge is not edited
    assert [t["fee"] for t in listing(api, type="charge")] == [320]
    assert balance(api)["eur"] == 9_600
    again = api.post(f"/test_helpers/payment_sessions/{paid['id']}/fee", {"fee": 300})
    assert (again.json["fee"], balance(api)["eur"]) == (-100, 9_700)  # back below the first
    assert api.post(f"/test_helpers/payment_sessions/{paid['id']}/fee",
                    {"fee": 300}).status_code == 400  # no change
    assert api.post(f"/test_helpers/payment_sessions/{paid['id']}/fee",
                    {"fee": 20_000}).status_code == 400


def _token(html: str, action: str) -> str:
    form = html[html.index(f'action="{action}"'):]
    return re.search(r'name="form_token" value="([^"]+)"', form).group(1)


def test_the_dashboard_refunds_changes_a_fee_and_adjusts_out_of_band(api, client):
    paid = capture(api, 10_000)
    page = client.get("/").get_data(as_text=True)
    refund_url = f"/payment_sessions/{paid['id']}/refund"
    assert client.post(refund_url, data={"amount": "1000"}).status_code == 403  # no token
    answer = client.post(refund_url, data={"amount": "1000",
                                           "form_token": _token(page, refund_url)})
    assert answer.status_code == 303
    fee_url = f"/payment_sessions/{paid['id']}/fee"
    client.post(fee_url, data={"fee": "350", "form_token": _token(page, fee_url)})
    client.post("/adjustments", data={"amount": "-99", "currency": "eur", "type": "fee",
                                      "form_token": _token(page, "/adjustments")})
    kinds = {t["type"]: t for t in listing(api)}
    assert kinds["refund"]["amount"] == -1_000
    fees = sorted(t["net"] for t in listing(api, type="fee"))
    assert fees == [-99, -30]  # the standalone fee, and the charge's re-rating 320 -> 350
    assert balance(api)["eur"] == 10_000 - 350 - 1_000 - 99
    shown = client.get("/").get_data(as_text=True)
    assert kinds["fee"]["id"] in shown and "Balance transactions" in shown
