"""The payment timeline shows every PSP call attempt from the call log, failed ones included:
a capture that timed out and was retried by its job with the same key shows both tries."""
from __future__ import annotations

import re

from flask import current_app

from app.extensions import db
from app.models import Payment
from app.models.psp_calls import PspCall
from app.providers.base import ProviderTimeout
from app.providers.registry import get_provider
from app.services.audit import Actor
from app.services.checkout import checkout, orders
from app.services.payments import actions
from app.services.payments.actions import action_key
from app.services.shop import cart
from tests.flows import buyer_pays, eventually, login, psp_call, settle

ACTOR = Actor("buyer@test.example", "127.0.0.1")
HELD_BACK = 1.5      # seconds the sandbox's "timeout_after" fault holds the capture's answer
QUICK_TIMEOUT = 0.4  # the adapter's timeout for that one call


def _authorized_payment(people, stack, psp) -> Payment:
    cart.set_quantity(people["buyer"], people["mug"], 2)
    order_id = orders.place_order(people["buyer"], "EUR", ACTOR)
    with current_app.test_request_context(base_url=current_app.config["PUBLIC_URL"]):
        payment_id = checkout.start_payment(order_id, people["buyer"], "hosted",
                                            ACTOR).payment_id
    payment = db.session.get(Payment, payment_id)
    buyer_pays(stack["psp_url"], payment.psp_reference)
    settle(psp)
    db.session.commit()
    payment = db.session.get(Payment, payment_id)
    assert payment.status == "authorized"
    return payment


def _rows(html: str) -> list[str]:
    table = html.split('id="payment-timeline"', 1)[1].split("</table>", 1)[0]
    return re.findall(r"<tr data-kind=\"psp-call\".*?</tr>", table, re.S)


def test_a_timed_out_then_retried_capture_shows_both_attempts(app, people, stack, psp):
    app.config["AUTO_CAPTURE"] = False
    try:
        payment = _authorized_payment(people, stack, psp)
        answer = psp_call(stack["psp_url"], "POST", "/v1/test_helpers/faults",
                          {"fault": "timeout_after", "count": 1, "path": "/capture",
                           "delay": HELD_BACK})
        assert answer.status_code == 200
        inner = get_provider("sandbox").inner
        before, inner.timeout = inner.timeout, QUICK_TIMEOUT
        try:
            actions.capture(payment.id, ACTOR)
            raise AssertionError("the capture should have timed out")
        except ProviderTimeout:
            pass
        finally:
            inner.timeout = before
        eventually(lambda: psp_call(stack["psp_url"], "GET", "/v1/payment_sessions/"
                                    f"{payment.psp_reference}").json()["amount_captured"])
        actions.capture(payment.id, ACTOR)  # the job's retry: the same key
    finally:
        app.config["AUTO_CAPTURE"] = True
    settle(psp)

    client = app.test_client()
    login(client, "support")
    html = client.get(f"/support/payments/{payment.id}").get_data(as_text=True)
    rows = _rows(html)
    captures = [r for r in rows if ": capture — " in r]
    key = action_key(payment, "capture")
    assert len(captures) == 2, rows
    first, second = captures
    assert 'data-outcome="timeout"' in first and "timed out (no answer)" in first
    assert "try 1 with this key" in first and f"Idempotency-Key {key}" in first
    assert 'data-outcome="ok"' in second and "try 2 with this key" in second
    assert f"Idempotency-Key {key}" in second and f"→ {payment.psp_reference}" in second
    assert rows.index(first) < rows.index(second)
    # The session's creation is in the log too, before both.
    assert ": create_session — ok" in rows[0]
    assert "(from the payment; no call log)" not in html

    # Once pruned from the log (PSP_CALL_LOG_DAYS), the payment's own memory stands in.
    db.session.execute(PspCall.__table__.delete().where(PspCall.payment_id == payment.id))
    db.session.commit()
    html = client.get(f"/support/payments/{payment.id}").get_data(as_text=True)
    assert [r for r in _rows(html) if "(from the payment; no call log)" in r]
    assert not [r for r in _rows(html) if ": capture — " in r]
