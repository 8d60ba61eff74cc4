"""The fee schedule: hosted 2.9 % + 30, embedded 2.5 % + 25, rounded half up, charged at capture."""
import pytest

from sandbox_psp.fees import fee_for, percent_half_up


@pytest.mark.parametrize("amount, bps, expected", [
    (2500, 290, 73),    # 72.5 rounds up
    (2500, 250, 63),    # 62.5 rounds up
    (1000, 290, 29),
    (1, 290, 0),        # 0.029 rounds down
    (18, 290, 1),       # 0.522 rounds up
    (17, 290, 0),       # 0.493 rounds down
    (20, 250, 1),       # exactly 0.5 rounds up
    (99_999_999, 290, 2_900_000),  # 2 899 999.971
])
def test_percent_rounds_half_up(amount, bps, expected):
    assert percent_half_up(amount, bps) == expected


def test_fee_objects():
    assert fee_for(2500, "eur", "hosted") == {"amount": 103, "currency": "eur", "schedule": "hosted",
                                              "percent_bps": 290, "fixed": 30}
    assert fee_for(2500, "eur", "embedded") == {"amount": 88, "currency": "eur", "schedule": "embedded",
                                                "percent_bps": 250, "fixed": 25}


@pytest.mark.parametrize("mode, amount, capture_amount, fee", [
    ("hosted", 2500, None, 103), ("embedded", 2500, None, 88),
    ("hosted", 10_000, 5_000, 175), ("embedded", 10_000, 5_000, 150),
    ("hosted", 1234, None, 66),    # 35.786 -> 36, + 30
    ("embedded", 1234, None, 56),  # 30.85 -> 31, + 25
])
def test_fee_is_set_on_capture_by_mode(api, mode, amount, capture_amount, fee):
    session = api.authorized_session(mode=mode, amount=amount)
    assert session["fee"] is None
    body = {"amount": capture_amount} if capture_amount else {}
    captured = api.post(f"/payment_sessions/{session['id']}/capture", body).json
    assert captured["fee"]["amount"] == fee
    assert captured["fee"]["schedule"] == mode and captured["fee"]["currency"] == "eur"


def test_hosted_costs_more_than_embedded(api):
    fees = {}
    for mode in ("hosted", "embedded"):
        session = api.authorized_session(mode=mode)
        fees[mode] = api.post(f"/payment_sessions/{session['id']}/capture").json["fee"]["amount"]
    assert fees["hosted"] > fees["embedded"]
