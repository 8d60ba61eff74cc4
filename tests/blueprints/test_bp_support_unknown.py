"""/support/payments/unknown: support sees every payment whose outcome is unknown, with the
janitor's next attempt; other roles never do."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from app.clock import now
from app.database import locked, unit_of_work
from app.domain.payment_states import PaymentStatus
from app.extensions import db
from app.models import Order, Payment
from app.services.audit import Actor
from app.services.payments import payments
from app.services.payments.janitor import JANITOR_DELAYS, schedule_janitor
from tests.flows import login

ACTOR = Actor("system:test", "test")


def payment_in(people, status: PaymentStatus, amount: int = 2400) -> int:
    """A payment driven through INITIATED → status by the service's own transition."""
    with unit_of_work():
        order = Order(buyer_id=people["buyer"], currency="EUR", total_amount=amount)
        db.session.add(order)
        db.session.flush()
        payment = Payment(order_id=order.id, provider="sandbox", routing_reason="test",
                          integration_mode="hosted", amount=amount, currency="EUR",
                          idempotency_key=f"hf_test_{order.id}_{status.value}")
        db.session.add(payment)
        db.session.flush()
        payment_id = payment.id
    if status != PaymentStatus.INITIATED:
        with unit_of_work():
            payments.record_change(locked(Payment, payment_id), status, "test", ACTOR)
    return payment_id


def rows(response) -> dict[int, str]:
    html = response.get_data(as_text=True)
    return {int(m.group(1)): m.group(2) for m in re.finditer(
        r'<tr data-payment="(\d+)">(.*?)</tr>', html, re.DOTALL)}


@pytest.mark.parametrize("who", ["buyer", "seller"])
def test_only_staff_see_the_list(app, people, who):
    client = app.test_client()
    login(client, who)
    assert client.get("/support/payments/unknown").status_code == 403


def test_lists_unknown_payments_with_the_janitors_next_run(app, people):
    waiting = payment_in(people, PaymentStatus.UNKNOWN)
    later = payment_in(people, PaymentStatus.UNKNOWN)
    abandoned = payment_in(people, PaymentStatus.UNKNOWN)
    settled = payment_in(people, PaymentStatus.PROCESSING)
    before = now() + timedelta(minutes=5)
    schedule_janitor(waiting)          # first attempt, in 5 minutes
    after = now() + timedelta(minutes=5)
    schedule_janitor(later, 2)         # third attempt, in a day
    client = app.test_client()
    login(client, "support")

    response = client.get("/support/payments/unknown")

    assert response.status_code == 200
    found = rows(response)
    assert set(found) == {waiting, later, abandoned}
    assert settled not in found
    assert f"attempt 1 of {len(JANITOR_DELAYS)}" in found[waiting]
    assert f"attempt 3 of {len(JANITOR_DELAYS)}" in found[later]
    assert "no run scheduled" in found[abandoned]
    assert any(t.strftime("%d %b %H:%M") in found[waiting] for t in (before, after))


def test_the_list_is_reachable_from_the_payments_page(app, people):
    client = app.test_client()
    login(client, "support")
    html = client.get("/support/payments").get_data(as_text=True)
    assert 'href="/support/payments/unknown"' in html
    assert "No payments with an unknown outcome." in client.get(
        "/support/payments/unknown").get_data(as_text=True)


def test_payment_page_shows_the_routing_decision(app, people):
    payment_id = payment_in(people, PaymentStatus.UNKNOWN)
    with unit_of_work():
        payment = locked(Payment, payment_id)
        payment.routing_reason = "rule “usd-to-us-acquirer”: currency USD → sandbox_us, sandbox"
        payment.routing_rule, payment.routing_fallbacks = "usd-to-us-acquirer", "sandbox"
        payment.billing_country = "US"
    client = app.test_client()
    login(client, "support")

    html = client.get(f"/support/payments/{payment_id}").get_data(as_text=True)

    assert "rule “usd-to-us-acquirer”: currency USD → sandbox_us, sandbox" in html
    assert "(rule usd-to-us-acquirer, billing country US, fallbacks sandbox)" in html
