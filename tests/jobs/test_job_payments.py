"""Payment jobs against the live sandbox: capture once, expire abandoned sessions, the janitor."""
from __future__ import annotations

import pytest
from flask import current_app
from rq.job import Job
from rq.registry import ScheduledJobRegistry

from app.domain.payment_states import PaymentStatus
from app.extensions import db, queues
from app.jobs.payments import capture_payment, expire_payment, resolve_payment
from app.models import Item, Order, Payment
from app.providers.base import ProviderError
from app.providers.registry import get_provider
from app.services.audit import Actor
from app.services.checkout import checkout, orders
from app.services.errors import PaymentUnavailable
from app.services.payments import actions
from app.services.payments.actions import action_key
from app.services.shop import cart
from tests.flows import (
    buyer_pays,
    closed_port_url,
    psp_call,
    run_jobs,
    settle,
    slow_proxy,
)

S = PaymentStatus
ACTOR = Actor("buyer@test.example", "127.0.0.1")


def place(people, quantity: int = 2) -> int:
    cart.set_quantity(people["buyer"], people["mug"], quantity)
    return orders.place_order(people["buyer"], "EUR", ACTOR)


def start(people, order_id: int, mode: str = "hosted") -> int:
    with current_app.test_request_context(base_url=current_app.config["PUBLIC_URL"]):
        return checkout.start_payment(order_id, people["buyer"], mode, ACTOR).payment_id


def fresh(payment_id: int) -> Payment:
    db.session.commit()  # end the read snapshot: the live servers wrote
    return db.session.get(Payment, payment_id)


def mug_stock(people) -> int:
    db.session.commit()
    return db.session.get(Item, people["mug"]).stock


def psp_session(psp_url: str, reference: str) -> dict:
    return psp_call(psp_url, "GET", f"/v1/payment_sessions/{reference}").json()


def executions(psp_url: str) -> dict:
    return psp_call(psp_url, "GET", "/v1/_stats").json()["executions"]


def authorized_payment(people, stack) -> Payment:
    """A payment the buyer authorized, known to the platform (before any capture)."""
    payment_id = start(people, place(people))
    payment = fresh(payment_id)
    assert buyer_pays(stack["psp_url"], payment.psp_reference).status_code == 200
    assert actions.refresh(payment_id, ACTOR).status == S.AUTHORIZED
    queues.queue.empty()  # the auto-capture job: these tests run capture themselves
    return fresh(payment_id)


def unknown_payment(people, swap_provider, serve_wsgi, stack, *, created: bool) -> Payment:
    """A payment whose create call timed out; `created`: whether the PSP made the session."""
    order_id = place(people)
    proxy = slow_proxy(stack["psp_url"], forward=created)
    swap_provider(serve_wsgi(proxy), timeout=0.5)
    with pytest.raises(PaymentUnavailable):
        start(people, order_id)
    proxy.settled()
    swap_provider(None)
    payment = db.session.get(Order, order_id).current_payment
    assert fresh(payment.id).status == "unknown"
    return payment


# --- capture ------------------------------------------------------------------------------

def test_capture_twice_captures_once(people, stack):
    payment = authorized_payment(people, stack)

    assert capture_payment(payment.id) == "moved"
    assert capture_payment(payment.id) == "unchanged"

    payment = fresh(payment.id)
    assert payment.status == "captured" and payment.amount_captured == 4800
    assert executions(stack["psp_url"])[action_key(payment, "capture")] == 1
    assert psp_session(stack["psp_url"], payment.psp_reference)["amount_captured"] == 4800
    assert db.session.get(Order, payment.order_id).status == "paid"


def test_capture_after_a_lost_answer_replays_instead_of_capturing_again(people, stack):
    payment = authorized_payment(people, stack)
    # The first capture reached the PSP but its answer never came back to us.
    get_provider("sandbox").capture(payment.psp_reference, payment.amount_authorized,
                                    idempotency_key=action_key(payment, "capture"))
    assert fresh(payment.id).status == "authorized"

    assert capture_payment(payment.id) == "moved"

    assert fresh(payment.id).status == "captured"
    assert executions(stack["psp_url"])[action_key(payment, "capture")] == 1


def test_capture_of_a_session_voided_at_the_psp_believes_the_psp(people, stack):
    payment = authorized_payment(people, stack)
    psp_call(stack["psp_url"], "POST", f"/v1/payment_sessions/{payment.psp_reference}/void")

    capture_payment(payment.id)

    payment = fresh(payment.id)
    assert payment.status == "cancelled" and payment.amount_captured == 0


def test_capture_with_the_psp_down_fails_loudly_for_a_retry(people, stack, swap_provider):
    payment = authorized_payment(people, stack)
    swap_provider(closed_port_url())

    with pytest.raises(ProviderError):
        capture_payment(payment.id)

    assert fresh(payment.id).status == "authorized"
    swap_provider(None)
    assert capture_payment(payment.id) == "moved"


# --- expiry -------------------------------------------------------------------------------

def test_expire_an_abandoned_session(people, stack):
    order_id = place(people)
    payment_id = start(people, order_id)
    assert mug_stock(people) == 8

    assert expire_payment(payment_id) == "moved"

    payment = fresh(payment_id)
    assert payment.status == "expired"
    assert [c.to_status for c in payment.changes] == ["processing", "expired"]
    assert db.session.get(Order, order_id).status == "cancelled"
    assert mug_stock(people) == 10
    assert psp_session(stack["psp_url"], payment.psp_reference)["status"] == "canceled"
    assert expire_payment(payment_id) == "unchanged"
    assert mug_stock(people) == 10


def test_expire_leaves_a_paid_payment_alone(people, stack):
    payment = authorized_payment(people, stack)
    capture_payment(payment.id)

    assert expire_payment(payment.id) == "unchanged"

    assert fresh(payment.id).status == "captured"
    assert action_key(payment, "expire") not in executions(stack["psp_url"])
    assert mug_stock(people) == 8


def test_buyer_paying_just_before_expiry_wins(people, stack, psp):
    order_id = place(people)
    payment_id = start(people, order_id)
    reference = fresh(payment_id).psp_reference
    assert buyer_pays(stack["psp_url"], reference).status_code == 200  # webhook not delivered

    expire_payment(payment_id)  # the PSP refuses the cancel; its state wins

    assert fresh(payment_id).status == "authorized"
    settle(psp)
    payment = fresh(payment_id)
    assert payment.status == "captured"
    assert "expired" not in [c.to_status for c in payment.changes]
    assert db.session.get(Order, order_id).status == "paid"
    assert mug_stock(people) == 8
    assert psp_session(stack["psp_url"], reference)["status"] == "captured"


def test_expire_before_the_session_reached_the_psp(people, swap_provider):
    order_id = place(people)
    swap_provider(closed_port_url())
    with pytest.raises(PaymentUnavailable):
        start(people, order_id)
    payment = db.session.get(Order, order_id).current_payment

    assert expire_payment(payment.id) == "moved"

    assert fresh(payment.id).status == "expired"
    assert db.session.get(Order, order_id).status == "cancelled"
    assert mug_stock(people) == 10


# --- the janitor --------------------------------------------------------------------------

def test_janitor_finds_the_session_the_lost_create_made(people, stack, swap_provider,
                                                        serve_wsgi):
    payment = unknown_payment(people, swap_provider, serve_wsgi, stack, created=True)

    assert resolve_payment(payment.id) == "moved"

    payment = fresh(payment.id)
    assert payment.status == "processing" and payment.psp_reference.startswith("ps_")
    assert payment.redirect_url == f"{stack['psp_url']}/pay/{payment.psp_reference}"
    assert [c.to_status for c in payment.changes] == ["unknown", "processing"]
    assert f"janitor-{payment.id}-1" not in ScheduledJobRegistry(
        queue=queues.queue).get_job_ids()


def test_janitor_moves_to_what_the_buyer_did_meanwhile(people, stack, swap_provider,
                                                       serve_wsgi):
    payment = unknown_payment(people, swap_provider, serve_wsgi, stack, created=True)
    (session,) = psp_call(stack["psp_url"], "GET",
                          f"/v1/payment_sessions?client_reference_id={payment.idempotency_key}").json()["data"]
    assert buyer_pays(stack["psp_url"], session["id"]).status_code == 200

    resolve_payment(payment.id)
    run_jobs()

    payment = fresh(payment.id)
    assert payment.status == "captured" and payment.psp_reference == session["id"]
    assert db.session.get(Order, payment.order_id).status == "paid"


def test_janitor_fails_a_payment_the_psp_never_created(people, stack, swap_provider,
                                                       serve_wsgi):
    payment = unknown_payment(people, swap_provider, serve_wsgi, stack, created=False)
    assert mug_stock(people) == 8

    assert resolve_payment(payment.id) == "moved"

    payment = fresh(payment.id)
    assert payment.status == "failed"
    assert db.session.get(Order, payment.order_id).status == "cancelled"
    assert mug_stock(people) == 10


def test_janitor_reschedules_while_the_psp_cannot_tell(people, stack, swap_provider,
                                                       serve_wsgi):
    payment = unknown_payment(people, swap_provider, serve_wsgi, stack, created=False)
    swap_provider(closed_port_url())

    with pytest.raises(ProviderError):
        resolve_payment(payment.id, 0)

    assert fresh(payment.id).status == "unknown"
    job = Job.fetch(f"janitor-{payment.id}-1", connection=queues.connection)
    assert job.args == (payment.id, 1)
    assert job.id in ScheduledJobRegistry(queue=queues.queue).get_job_ids()


def test_janitor_run_by_a_worker_schedules_the_next_attempt_intact(people, stack,
                                                                   swap_provider, serve_wsgi):
    payment = unknown_payment(people, swap_provider, serve_wsgi, stack, created=False)
    swap_provider(closed_port_url())
    registry = ScheduledJobRegistry(queue=queues.queue)
    queues.connection.zadd(registry.key, {f"janitor-{payment.id}": 0})  # due now
    from rq.scheduler import RQScheduler

    scheduler = RQScheduler([queues.queue], connection=queues.connection)
    scheduler.acquire_locks()
    scheduler.enqueue_scheduled_jobs()
    scheduler.release_locks()
    run_jobs()  # attempt 0 fails: the PSP is down

    following = Job.fetch(f"janitor-{payment.id}-1", connection=queues.connection)
    assert following.args == (payment.id, 1)
    assert following.get_status() == "scheduled"
    assert queues.connection.ttl(following.key) == -1  # it waits as long as it must
    assert fresh(payment.id).status == "unknown"


def test_a_capture_the_psp_refuses_for_good_is_flagged_for_review(app, client, people, stack,
                                                                  monkeypatch):
    from app.providers.base import ProviderError
    from app.providers.registry import get_provider
    from app.services.payments import actions
    from tests.flows import add, latest_payment, login, order_and_start

    login(client, "buyer")
    add(client, people["mug"])
    order_id, payment = order_and_start(client, "EUR", "hosted")
    buyer_pays(stack["psp_url"], payment.psp_reference)
    actions.refresh(payment.id, ACTOR)  # AUTHORIZED, as the webhook would make it

    def refuse(*_args, **_kwargs):
        raise ProviderError("capture not allowed", code="capture_not_allowed", status=400)

    monkeypatch.setattr(get_provider("sandbox"), "capture", refuse)
    outcome = actions.capture(payment.id, ACTOR)
    payment = latest_payment(order_id)
    assert outcome.result == "needs_review"
    assert payment.status == S.AUTHORIZED.value
    assert payment.needs_review and "capture_not_allowed" in payment.review_reason
