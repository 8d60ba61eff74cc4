"""Payouts: validation, never more than the balance (also racing), settlement, events, privacy."""
import threading
import time

import pytest

from sandbox_psp import deliver_due, idempotency
from sandbox_psp.models import IdempotencyKey, db
from tests.flows import eventually

IBAN = "DE89370400440532013000"
US_PAID = {"account_number": "000123456789", "routing_number": "110000000"}
FUNDED = 10_000 - 320  # one hosted capture of 10 000 less its fee (2.9 % + 30)

# Every row of the documented test account table, plus one IBAN of our own choosing.
TEST_ACCOUNTS = [
    (US_PAID, "us_account", "6789", "paid", None),
    ({"account_number": "000111111116", "routing_number": "110000000"}, "us_account", "1116", "failed", "no_account"),
    ({"account_number": "000111111113", "routing_number": "110000000"}, "us_account", "1113", "failed",
     "account_closed"),
    ({"account_number": "000222222227", "routing_number": "110000000"}, "us_account", "2227", "failed",
     "insufficient_funds"),
    ({"iban": IBAN}, "iban", "3000", "paid", None),
    ({"iban": "GB82WEST12345698765432"}, "iban", "5432", "paid", None),
    ({"iban": "DE62370400440532013001"}, "iban", "3001", "failed", "account_closed"),
    ({"iban": "DE35370400440532013002"}, "iban", "3002", "failed", "no_account"),
]


@pytest.fixture
def funded(api):
    """A eur balance of FUNDED, from one automatically captured hosted session."""
    api.authorized_session(amount=10_000, capture_method="automatic")
    return FUNDED


def body(**overrides) -> dict:
    payout = {"amount": 1_000, "currency": "eur", "destination": {"iban": IBAN}, "holder_name": "Sam Seller"}
    payout.update(overrides)
    return {k: v for k, v in payout.items() if v is not None}


def available(api, currency="eur") -> int:
    entries = api.get("/balance").json["available"]
    return next((e["amount"] for e in entries if e["currency"] == currency), 0)


def executions(api) -> dict:
    return api.get("/_stats").json["executions"]


def test_a_payout_is_pending_and_shows_only_the_last_4(app, api, funded):
    before = time.time()
    response = api.post("/payouts", body(destination={"iban": "de89 3704 0044 0532 0130 00"},
                                         description="June sales", metadata={"seller": 7}))
    assert response.status_code == 200, response.json
    payout = response.json
    assert payout["id"].startswith("po_") and payout["object"] == "payout"
    assert payout["status"] == "pending" and payout["amount"] == 1_000 and payout["currency"] == "eur"
    assert payout["destination"] == {"type": "iban", "last4": "3000"}
    assert payout["holder_name"] == "Sam Seller" and payout["description"] == "June sales"
    assert payout["metadata"] == {"seller": "7"}
    assert payout["failure_code"] is None and payout["failure_message"] is None
    assert before + 2 <= payout["arrival_date"] <= time.time() + 3  # SANDBOX_PAYOUT_DELAY, default 2 s
    assert int(before) <= payout["created"] <= time.time()
    assert api.get(f"/payouts/{payout['id']}").json == payout
    assert available(api) == FUNDED - 1_000


@pytest.mark.parametrize("destination, kind, last4, status, failure_code", TEST_ACCOUNTS)
def test_every_test_account_settles_as_documented(app, api, receiver, funded, destination, kind, last4,
                                                  status, failure_code):
    created = api.post("/payouts", body(destination=destination)).json
    assert created["status"] == "pending" and created["destination"] == {"type": kind, "last4": last4}
    deliver_due(app, now=created["arrival_date"])
    settled = api.get(f"/payouts/{created['id']}").json
    assert settled["status"] == status and settled["failure_code"] == failure_code
    assert bool(settled["failure_message"]) is (status == "failed")
    [event] = [e for e in receiver.events() if e["type"].startswith("payout.")]
    assert event["type"] == f"payout.{status}"
    assert event["data"]["object"] == settled
    assert event == api.get(f"/events/{event['id']}").json
    assert api.get("/events", type="payout.*").json["data"] == [event]


def test_settlement_waits_for_the_payout_delay(app, api, funded):
    app.config["SANDBOX_PAYOUT_DELAY"] = 60
    before = time.time()  # bounds from before the request: no margin for how long it takes
    payout = api.post("/payouts", body()).json
    assert payout["arrival_date"] >= before + 60
    deliver_due(app, now=before + 30)
    assert api.get(f"/payouts/{payout['id']}").json["status"] == "pending"
    assert api.event_types().count("payout.paid") == 0
    deliver_due(app, now=payout["arrival_date"])
    assert api.get(f"/payouts/{payout['id']}").json["status"] == "paid"
    deliver_due(app, now=payout["arrival_date"] + 60)  # settling is done once
    assert api.event_types().count("payout.paid") == 1


def test_the_deliverer_settles_on_its_own(app, api, receiver, funded):
    from sandbox_psp import start_deliverer

    app.config["SANDBOX_PAYOUT_DELAY"] = 0.2
    payout = api.post("/payouts", body()).json
    deliverer = start_deliverer(app, interval=0.05)
    try:
        eventually(lambda: any(e["type"] == "payout.paid" for e in receiver.events()))
    finally:
        deliverer.stop()
    assert api.get(f"/payouts/{payout['id']}").json["status"] == "paid"
    assert receiver.requests[-1]["headers"]["Sandbox-Signature"].startswith("t=")


def test_a_failed_payout_returns_its_amount_to_the_balance(app, api, funded):
    paid = api.post("/payouts", body(amount=2_000)).json
    failing = api.post("/payouts", body(amount=3_000, destination={"iban": "DE35370400440532013002"})).json
    assert available(api) == FUNDED - 5_000
    deliver_due(app, now=max(paid["arrival_date"], failing["arrival_date"]))
    assert api.get(f"/payouts/{failing['id']}").json["status"] == "failed"
    assert available(api) == FUNDED - 2_000
    assert api.post("/payouts", body(amount=FUNDED - 2_000)).status_code == 200  # spendable again


def test_more_than_the_balance_is_refused(api, funded):
    too_much = api.post("/payouts", body(amount=FUNDED + 1))
    assert too_much.status_code == 400
    assert too_much.json["error"]["type"] == "invalid_request_error"
    assert too_much.json["error"]["code"] == "balance_insufficient"
    assert api.post("/payouts", body(amount=FUNDED)).status_code == 200
    assert api.post("/payouts", body(amount=1)).json["error"]["code"] == "balance_insufficient"
    assert api.post("/payouts", body(currency="usd", amount=1)).json["error"]["code"] == "balance_insufficient"
    assert len(api.get("/payouts").json["data"]) == 1
    assert available(api) == 0


def test_a_bad_iban_checksum_is_a_400_before_anything_else(api, funded):
    response = api.post("/payouts", body(amount=FUNDED + 1, destination={"iban": "DE89370400440532013001"}),
                        key="bad-iban")
    assert response.status_code == 400
    assert response.json["error"]["param"] == "destination[iban]"
    assert response.json["error"]["type"] == "invalid_request_error"
    assert executions(api) == {}  # validation failures save nothing
    assert api.get("/payouts").json["data"] == []


@pytest.mark.parametrize("change, param", [
    ({"status": "paid"}, "status"),
    ({"amount": 0}, "amount"), ({"amount": -5}, "amount"), ({"amount": 10.5}, "amount"),
    ({"amount": "100"}, "amount"), ({"amount": True}, "amount"), ({"amount": None}, "amount"),
    ({"currency": "eu"}, "currency"), ({"currency": None}, "currency"),
    ({"holder_name": None}, "holder_name"), ({"holder_name": ""}, "holder_name"),
    ({"holder_name": "x" * 201}, "holder_name"), ({"description": 5}, "description"),
    ({"metadata": "x"}, "metadata"),
    ({"destination": None}, "destination"), ({"destination": "DE89370400440532013000"}, "destination"),
    ({"destination": {}}, "destination"),
    ({"destination": {"iban": IBAN, **US_PAID}}, "destination"),
    ({"destination": {"iban": IBAN, "bic": "COBADEFFXXX"}}, "destination[bic]"),
    ({"destination": {"iban": "DE8937040044"}}, "destination[iban]"),
    ({"destination": {"iban": 123}}, "destination[iban]"),
    ({"destination": {"account_number": "000123456789"}}, "destination[routing_number]"),
    ({"destination": {"routing_number": "110000000"}}, "destination[account_number]"),
    ({"destination": {**US_PAID, "account_number": "12ab"}}, "destination[account_number]"),
    ({"destination": {**US_PAID, "account_number": 123456789}}, "destination[account_number]"),
    ({"destination": {**US_PAID, "routing_number": "110000001"}}, "destination[routing_number]"),
])
def test_invalid_payouts_answer_400_naming_the_param(api, funded, change, param):
    response = api.post("/payouts", body(**change))  # a None leaves the field out
    assert response.status_code == 400, response.json
    assert response.json["error"]["type"] == "invalid_request_error"
    assert response.json["error"]["param"] == param
    assert api.get("/payouts").json["data"] == []


def test_a_retry_with_the_same_key_pays_out_once(api, funded):
    first = api.post("/payouts", body(amount=4_000), key="payout-1")
    again = api.post("/payouts", body(amount=4_000), key="payout-1")
    assert first.status_code == again.status_code == 200
    assert again.get_data() == first.get_data() and again.headers["Idempotent-Replayed"] == "true"
    assert executions(api) == {"payout-1": 1}
    assert len(api.get("/payouts").json["data"]) == 1
    assert available(api) == FUNDED - 4_000


def test_the_same_account_written_differently_is_the_same_request(api, funded):
    first = api.post("/payouts", body(), key="spaced")
    spaced = api.post("/payouts", body(destination={"iban": "DE89 3704 0044 0532 0130 00"}), key="spaced")
    assert spaced.status_code == 200 and spaced.get_data() == first.get_data()
    assert executions(api) == {"spaced": 1}


def test_the_same_key_for_another_account_is_an_idempotency_error(api, funded):
    assert api.post("/payouts", body(), key="k").status_code == 200
    other = api.post("/payouts", body(destination={"iban": "GB82WEST12345698765432"}), key="k")
    assert other.status_code == 400 and other.json["error"]["type"] == "idempotency_error"
    other_us = api.post("/payouts", body(destination={**US_PAID, "routing_number": "021000021"}), key="k2")
    assert other_us.status_code == 200
    moved = api.post("/payouts", body(destination=US_PAID), key="k2")
    assert moved.status_code == 400 and moved.json["error"]["type"] == "idempotency_error"
    assert executions(api) == {"k": 1, "k2": 1}


def test_a_refusal_for_the_balance_is_replayed_like_any_answer(api, funded):
    refused = api.post("/payouts", body(amount=FUNDED + 1), key="early")
    api.authorized_session(amount=10_000, capture_method="automatic")
    again = api.post("/payouts", body(amount=FUNDED + 1), key="early")
    assert again.status_code == 400 and again.get_data() == refused.get_data()
    assert executions(api) == {"early": 1}


def race(app, api, bodies, keys=None) -> list[tuple[int, str | None]]:
    """POST every body to /v1/payouts at once from threads: (status, error code) pairs."""
    barrier, answers = threading.Barrier(len(bodies)), []

    def call(payout, key):
        headers = {"Authorization": f"Bearer {api.API_KEY}", **({"Idempotency-Key": key} if key else {})}
        client = app.test_client()
        barrier.wait()
        response = client.post("/v1/payouts", json=payout, headers=headers)
        answers.append((response.status_code, (response.json.get("error") or {}).get("code")))

    threads = [threading.Thread(target=call, args=(b, k)) for b, k in zip(bodies, keys or [None] * len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(answers) == len(bodies)
    return sorted(answers)


def test_two_concurrent_payouts_that_together_exceed_the_balance_have_one_winner(app, api, funded):
    answers = race(app, api, [body(amount=6_000), body(amount=6_000)])
    assert answers == [(200, None), (400, "balance_insufficient")]
    assert available(api) == FUNDED - 6_000


def test_many_concurrent_payouts_never_overspend(app, api, funded):
    keys = [f"race-{n}" for n in range(8)]
    answers = race(app, api, [body(amount=3_000)] * 8, keys)
    assert answers == [(200, None)] * 3 + [(400, "balance_insufficient")] * 5
    assert available(api) == FUNDED - 9_000
    assert len(api.get("/payouts").json["data"]) == 3
    assert executions(api) == dict.fromkeys(keys, 1)


def test_retrieve_and_list_newest_first(api, funded):
    made = [api.post("/payouts", body(amount=100 + n)).json["id"] for n in range(3)]
    listed = api.get("/payouts", limit="2").json
    assert listed["object"] == "list" and listed["has_more"] is True
    assert [p["id"] for p in listed["data"]] == made[:0:-1]
    rest = api.get("/payouts", limit="2", starting_after=made[1]).json
    assert [p["id"] for p in rest["data"]] == [made[0]] and rest["has_more"] is False
    assert api.get("/payouts", starting_after="po_nope").status_code == 400
    assert api.get("/payouts", limit="0").status_code == 400
    missing = api.get("/payouts/po_nope")
    assert missing.status_code == 404 and missing.json["error"]["code"] == "resource_missing"


def test_the_dashboard_lists_payouts(app, api, client, funded):
    payout = api.post("/payouts", body(amount=1_500, destination={"iban": "DE62370400440532013001"})).json
    deliver_due(app, now=payout["arrival_date"])
    page = client.get("/").text
    assert payout["id"] in page and "€15.00" in page and "account_closed" in page
    assert "•••• 3001" in page and "Sam Seller" in page
    assert "€96.80" in page  # the balance: the failed payout came back
    assert "DE62370400440532013001" not in page


def test_no_account_number_or_iban_is_ever_stored(app, api, client, db_path, funded):
    secrets = ["DE89370400440532013000", "DE89 3704 0044 0532 0130 00", "DE62370400440532013001",
               "000123456789", "000111111113", "GB82WEST12345698765432"]
    api.post("/payouts", body(amount=100, destination={"iban": "DE89 3704 0044 0532 0130 00"}), key="a")
    api.post("/payouts", body(amount=100, destination={"iban": "DE62370400440532013001"}), key="b")
    api.post("/payouts", body(amount=100, destination=US_PAID), key="c")
    api.post("/payouts", body(amount=100, destination={**US_PAID, "account_number": "000111111113"}))
    api.post("/payouts", body(amount=FUNDED, destination={"iban": "GB82WEST12345698765432"}), key="d")  # refused
    api.post("/payouts", body(amount=100, destination=US_PAID), key="c")  # replayed
    deliver_due(app, now=time.time() + 10)
    client.get("/")
    stored = b"".join(path.read_bytes() for path in db_path.parent.glob(db_path.name + "*"))
    assert b"po_" in stored and b"Sam Seller" in stored  # the scan does see the payouts
    # The whole value, or all but its last 4 (named, not dumped, if found).
    found = [form for secret in secrets for form in (secret, secret[:-4]) if form.encode() in stored]
    assert found == []


def test_the_idempotency_fingerprint_cannot_be_brute_forced_back_to_the_account(app, api, db_path, funded):
    # An unkeyed hash of a body whose every other field is in the saved response would let
    # anyone with the database try account numbers until it matched.
    payout = body(destination=US_PAID)
    assert api.post("/payouts", payout, key="fp").status_code == 200
    plain = idempotency.request_fingerprint("POST", "/v1/payouts", payout)
    with app.app_context():
        stored = db.session.scalar(db.select(IdempotencyKey.request_fingerprint).filter_by(key="fp"))
    assert stored and stored != plain
    assert plain.encode() not in b"".join(p.read_bytes() for p in db_path.parent.glob(db_path.name + "*"))


def test_a_payout_to_the_platforms_own_account_is_reported_and_always_paid(app, api, funded):
    """The treasury takes collected money out to the platform's bank account on file (Stripe's
    default external account): named as "platform_account", never implied by a missing one."""
    response = api.post("/payouts", body(destination="platform_account",
                                         holder_name="Holdfast treasury", amount=2_500))
    assert response.status_code == 200, response.json
    payout = response.json
    assert payout["destination"] == {"type": "platform_account", "last4": "0000"}
    assert available(api) == FUNDED - 2_500
    (line,) = api.get("/balance_transactions", type="payout").json["data"]
    assert (line["source"], line["amount"], line["payout"]) == (payout["id"], -2_500, payout["id"])
    deliver_due(app, now=payout["arrival_date"])
    assert api.get(f"/payouts/{payout['id']}").json["status"] == "paid"
    assert "The platform's own account" in app.test_client().get("/").get_data(as_text=True)
