"""Conversions of the platform's balance: validation, never more than the balance in the sold
currency, both legs in the balance and the settlement report, once per key."""
import datetime

import pytest

from tests.sandbox_psp.test_psp_payouts import (  # noqa: F401  (fixture)
    FUNDED,
    available,
    body,
    executions,
    funded,
)


def conversion(**overrides) -> dict:
    wanted = {"sell_amount": 5_438, "sell_currency": "eur", "buy_amount": 5_900,
              "buy_currency": "usd"}
    wanted.update(overrides)
    return {k: v for k, v in wanted.items() if v is not None}


@pytest.mark.usefixtures("funded")
def test_a_conversion_moves_the_balance_between_currencies_once_per_key(api):
    first = api.post("/conversions", conversion(), key="cv-1")
    assert first.status_code == 200, first.json
    made = first.json
    assert made["id"].startswith("cv_") and made["object"] == "conversion"
    assert (made["sell_amount"], made["sell_currency"], made["buy_amount"],
            made["buy_currency"]) == (5_438, "eur", 5_900, "usd")
    again = api.post("/conversions", conversion(), key="cv-1")  # a retry after a lost answer
    assert again.json["id"] == made["id"] and executions(api) == {"cv-1": 1}
    assert available(api, "eur") == FUNDED - 5_438 and available(api, "usd") == 5_900
    assert api.get(f"/conversions/{made['id']}").json == made
    # The converted USD can be paid out; the EUR sold cannot.
    assert api.post("/payouts", body(currency="usd", amount=5_900)).status_code == 200
    legs = api.get("/balance_transactions", type="conversion").json["data"]
    assert sorted((t["currency"], t["amount"], t["source"]) for t in legs) == [
        ("eur", -5_438, made["id"]), ("usd", 5_900, made["id"])]
    day = datetime.datetime.fromtimestamp(legs[0]["created"], datetime.timezone.utc)
    report = api.get("/reports/settlement", date=day.strftime("%Y-%m-%d")).get_data(as_text=True)
    assert report.count("currency_conversion") == 2


@pytest.mark.usefixtures("funded")
def test_a_conversion_is_refused_beyond_the_balance_and_on_bad_input(api):
    short = api.post("/conversions", conversion(sell_amount=FUNDED + 1), key="cv-short")
    assert short.status_code == 400
    assert (short.json["error"]["code"], short.json["error"]["param"]) == (
        "balance_insufficient", "sell_amount")
    for bad, param in [(conversion(buy_currency="eur"), "buy_currency"),
                       (conversion(sell_currency="euro"), "sell_currency"),
                       (conversion(buy_amount=0), "buy_amount"),
                       (conversion(sell_amount=None), "sell_amount")]:
        answer = api.post("/conversions", bad)
        assert answer.status_code == 400 and answer.json["error"]["param"] == param, answer.json
    assert available(api, "eur") == FUNDED and available(api, "usd") == 0
    assert api.get("/conversions/cv_nope").status_code == 404
