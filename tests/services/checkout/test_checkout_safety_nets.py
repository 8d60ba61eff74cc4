"""Safety nets around checkout: a lost webhook is recovered by a re-fetch; demo logins in prod."""
from __future__ import annotations

from rq.registry import ScheduledJobRegistry

from app.domain.payment_states import PaymentStatus
from app.extensions import db, queues
from app.jobs.payments import refresh_payment
from app.models import User
from tests.flows import PASSWORD, add, buyer_pays, latest_payment, login, order_and_start


def test_return_page_schedules_a_refetch_that_settles_a_lost_webhook(client, people, stack):
    login(client, "buyer")
    add(client, people["mug"])
    order_id, payment = order_and_start(client, "EUR", "hosted")
    buyer_pays(stack["psp_url"], payment.psp_reference)  # its webhook is never delivered

    page = client.get(f"/checkout/{order_id}/return")
    assert b"Processing" in page.data
    scheduled = ScheduledJobRegistry(queue=queues.queue).get_job_ids()
    assert f"refresh-{payment.id}" in scheduled

    assert refresh_payment(payment.id) == "moved"
    assert latest_payment(order_id).status == PaymentStatus.AUTHORIZED.value
    assert b"Payment received." in client.get(f"/checkout/{order_id}/status").data


def test_settled_return_page_schedules_nothing(client, people, stack, psp):
    from tests.flows import settle

    login(client, "buyer")
    add(client, people["mug"])
    order_id, payment = order_and_start(client, "EUR", "hosted")
    buyer_pays(stack["psp_url"], payment.psp_reference)
    settle(psp)
    client.get(f"/checkout/{order_id}/return")
    assert f"refresh-{payment.id}" not in ScheduledJobRegistry(queue=queues.queue).get_job_ids()


def test_demo_accounts_are_refused_outside_development(app, client, password_hash):
    db.session.add(User(email="buyer@demo.test", display_name="Demo", role="buyer",
                        password_hash=password_hash))
    db.session.commit()
    form = {"email": "buyer@demo.test", "password": PASSWORD}
    app.config["DEMO_ACCOUNTS_ALLOWED"] = False
    try:
        assert client.post("/login", data=form).status_code == 401
    finally:
        app.config["DEMO_ACCOUNTS_ALLOWED"] = True
    assert client.post("/login", data=form).status_code == 303
