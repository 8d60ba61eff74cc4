"""The fee report's data: what each provider and mode cost, and what it saved against hosted."""
from __future__ import annotations

import requests

from app.services.payments.fee_report import fees_by_mode
from tests.flows import add, buyer_pays, latest_payment, login, order_and_start, settle


def pay_fields(client, stack, psp, item) -> int:
    add(client, item)
    order_id, payment = order_and_start(client, "EUR", "fields")
    token = requests.post(f"{stack['psp_url']}/fields/v1/tokens", timeout=10,
                          headers={"Sec-Fetch-Site": "same-origin"},
                          json={"key": "pk_test_sandbox", "number": "4242424242424242",
                                "expiry": "12/39", "cvc": "123"}).json()["id"]
    assert client.post(f"/checkout/{order_id}/fields", data={"token": token}).status_code == 303
    settle(psp)
    return order_id


def test_fees_are_grouped_by_mode_with_the_saving_against_hosted(app, client, people, stack,
                                                                 psp):
    login(client, "buyer")
    add(client, people["mug"])  # 24.00 EUR
    order_id, payment = order_and_start(client, "EUR", "hosted")
    buyer_pays(stack["psp_url"], payment.psp_reference)
    settle(psp)
    assert latest_payment(order_id).psp_fee_amount == 100  # 2.9 % of 24.00 + 0.30
    fields_order = pay_fields(client, stack, psp, people["candle"])  # 16.90 EUR
    assert latest_payment(fields_order).psp_fee_amount == 44  # 1.4 % of 16.90 + 0.20

    rows = {(r.provider, r.mode): r for r in fees_by_mode()}
    hosted, fields = rows[("sandbox", "hosted")], rows[("sandbox", "fields")]
    assert (hosted.payments, hosted.captured, hosted.fees, hosted.saving) == (1, 2400, 100, 0)
    assert (fields.payments, fields.captured, fields.fees) == (1, 1690, 44)
    assert fields.saving == 79 - 44  # hosted would have cost 2.9 % of 16.90 + 0.30 = 0.79
    assert fields.effective_bps == 260 and hosted.effective_bps == 417
