"""Faults: webhooks late, duplicated and in every order; jobs that die and run again."""
from __future__ import annotations

import itertools
import json
import socket
import time

import pytest
from flask import current_app
from sqlalchemy import func, select

from app.extensions import db, queues
from app.models import AuditRecord, Order, Payment, PaymentStatusChange, WebhookEvent
from app.providers.registry import get_provider
from app.providers.sandbox import SandboxProvider
from app.providers.sandbox.webhooks import HEADER, sign
from app.services import inbox, webhooks
from app.services.audit import Actor
from app.services.checkout import checkout, orders
from app.services.payments import payments
from app.services.payments.actions import action_key
from app.services.shop import cart
from tests.flows import buyer_pays, psp_call, run_jobs, settle

ACTOR = Actor("buyer@test.example", "127.0.0.1")
# The only direction a payment's history may take in these scenarios.
FORWARD = ["initiated", "processing", "declined", "authorized", "captured"]


class Outage:
    """Make the PSP unreachable for the platform (start), and reachable again (end)."""

    def __init__(self, app):
        self.cache = app.extensions.setdefault("holdfast_providers", {})
        self.original = get_provider("sandbox")
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self.down = SandboxProvider(closed, app.config["SANDBOX_API_KEY"],
                                    [app.config["SANDBOX_WEBHOOK_SECRET"]], timeout=2)

    def start(self) -> None:
        self.cache["sandbox"] = self.down

    def end(self) -> None:
        self.cache["sandbox"] = self.original


@pytest.fixture
def outage(app):
    """Control over the platform's reach to the PSP; always reachable again afterwards."""
    control = Outage(app)
    yield control
    control.end()


def paid_and_captured_at_psp(people, stack, declined_first: bool) -> tuple[Payment, list[dict]]:
    """A session the buyer paid (after a decline, maybe) and we captured at the PSP, with none
    of its webhooks delivered yet; returns the payment and its events, oldest first."""
    cart.set_quantity(people["buyer"], people["mug"], 2)
    order_id = orders.place_order(people["buyer"], "EUR", ACTOR)
    with current_app.test_request_context(base_url=current_app.config["PUBLIC_URL"]):
        payment_id = checkout.start_payment(order_id, people["buyer"], "hosted", ACTOR).payment_id
    payment = db.session.get(Payment, payment_id)
    psp_url = stack["psp_url"]
    if declined_first:
        assert buyer_pays(psp_url, payment.psp_reference,
                          "pm_card_chargeDeclined").status_code == 402
    assert buyer_pays(psp_url, payment.psp_reference).status_code == 200
    get_provider("sandbox").capture(payment.psp_reference, payment.amount,
                                    idempotency_key=action_key(payment, "capture"))
    recent = psp_call(psp_url, "GET", "/v1/events?limit=20").json()["data"]
    events = [e for e in reversed(recent) if e["data"]["object"]["id"] == payment.psp_reference]
    expected = (["payment_session.payment_failed"] if declined_first else []) + [
        "payment_session.authorized", "payment_session.captured"]
    assert [e["type"] for e in events] == expected
    return payment, events


def deliver(client, event: dict) -> None:
    """POST one event to the platform as the sandbox would, signed with the shared secret."""
    raw = json.dumps(event).encode()
    header = sign(current_app.config["SANDBOX_WEBHOOK_SECRET"], raw, int(time.time()))
    response = client.post("/webhooks/sandbox", data=raw,
                           headers={HEADER: header, "Content-Type": "application/json"})
    assert response.status_code == 200


def history(payment_id: int) -> list[str]:
    db.session.commit()  # end the read snapshot: the live servers wrote
    return [c.to_status for c in db.session.get(Payment, payment_id).changes]


def assert_captured_once(payment: Payment, stack) -> None:
    db.session.commit()
    final = db.session.get(Payment, payment.id)
    assert final.status == "captured" and final.needs_review is False
    assert final.amount_captured == final.amount == 4800
    steps = history(payment.id)
    assert steps[0] == "processing" and steps[-1] == "captured"
    assert steps == sorted(set(steps), key=FORWARD.index)  # never backwards, never repeated
    assert db.session.get(Order, payment.order_id).status == "paid"
    stats = psp_call(stack["psp_url"], "GET", "/v1/_stats").json()["executions"]
    assert stats[action_key(payment, "capture")] == 1
    assert action_key(payment, "expire") not in stats
    session = psp_call(stack["psp_url"], "GET",
                       f"/v1/payment_sessions/{payment.psp_reference}").json()
    assert (session["status"], session["amount_captured"]) == ("captured", 4800)


def delivery_plans():
    """Every order of a payment's events, each event duplicated two ways."""
    for declined_first, count in ((False, 2), (True, 3)):
        for perm in itertools.permutations(range(count)):
            for style in ("pairs", "twice"):
                copies = [i for i in perm for _ in (0, 1)] if style == "pairs" else list(perm) * 2
                label = "declined-then-paid" if declined_first else "paid"
                yield pytest.param(declined_first, copies, id=f"{label}-{perm}-{style}")


@pytest.mark.parametrize("psp_reachable", [True, False], ids=["refetch", "snapshot"])
@pytest.mark.parametrize("declined_first, copies", list(delivery_plans()))
def test_every_delivery_order_ends_captured_once(client, people, stack, psp, outage,
                                                 psp_reachable, declined_first, copies):
    payment, events = paid_and_captured_at_psp(people, stack, declined_first)
    if not psp_reachable:
        outage.start()  # no re-fetch: each event's own (possibly stale) snapshot is applied

    for index in copies:
        deliver(client, events[index])
        run_jobs()
    outage.end()
    settle(psp)  # the sandbox's own deliveries: all duplicates by now

    assert_captured_once(payment, stack)
    rows = db.session.scalars(select(WebhookEvent).where(
        WebhookEvent.object_id == payment.psp_reference)).all()
    assert sorted(r.event_id for r in rows) == sorted(e["id"] for e in events)
    assert {r.status for r in rows} == {"processed"}


def test_snapshot_order_is_what_moves_the_payment_without_the_psp(client, people, stack,
                                                                  outage):
    """Captured first, then a late authorized: the late one is stale, not a step back."""
    payment, (authorized, captured) = paid_and_captured_at_psp(people, stack, False)
    outage.start()

    deliver(client, captured)
    deliver(client, authorized)
    run_jobs()

    assert history(payment.id) == ["processing", "captured"]
    outcomes = db.session.scalars(select(WebhookEvent.outcome).order_by(WebhookEvent.id)).all()
    assert outcomes[0].startswith("moved") and outcomes[1].startswith("stale")


def counts(payment_id: int) -> tuple[int, int, int]:
    db.session.commit()
    changes = db.session.scalar(select(func.count()).select_from(PaymentStatusChange).where(
        PaymentStatusChange.payment_id == payment_id))
    audits = db.session.scalar(select(func.count()).select_from(AuditRecord))
    stats = psp_call(current_app.config["SANDBOX_API_URL"], "GET", "/v1/_stats").json()
    return changes, audits, sum(stats["executions"].values())


def test_processing_an_event_again_changes_nothing(client, people, stack):
    payment, events = paid_and_captured_at_psp(people, stack, False)
    deliver(client, events[-1])
    queues.queue.empty()
    (row,) = db.session.scalars(select(WebhookEvent)).all()
    assert webhooks.process(row.id).result == "moved"
    before = counts(payment.id)

    # The worker died after its commit and RQ runs the job again; the row even looks new.
    row = db.session.get(WebhookEvent, row.id)
    row.status = "received"
    db.session.commit()
    again = webhooks.process(row.id)

    assert again.result == "unchanged"
    assert counts(payment.id) == before
    assert_captured_once(payment, stack)


def test_applying_the_same_report_twice_changes_nothing(people, stack):
    payment, _ = paid_and_captured_at_psp(people, stack, False)
    report = get_provider("sandbox").retrieve(payment.psp_reference)

    assert payments.apply_report(payment.id, report, "first", ACTOR).result == "moved"
    before = counts(payment.id)
    assert payments.apply_report(payment.id, report, "rerun", ACTOR).result == "unchanged"

    assert counts(payment.id) == before
    assert_captured_once(payment, stack)


def test_a_job_killed_before_its_commit_leaves_no_trace_and_reruns_cleanly(
        client, people, stack, monkeypatch):
    payment, events = paid_and_captured_at_psp(people, stack, False)
    deliver(client, events[-1])
    queues.queue.empty()
    (row,) = db.session.scalars(select(WebhookEvent)).all()
    before = counts(payment.id)

    def killed(*args, **kwargs):
        raise SystemExit("worker killed")  # at the very end of the transaction

    monkeypatch.setattr(inbox, "mark", killed)
    with pytest.raises(SystemExit):
        webhooks.process(row.id)
    monkeypatch.undo()

    db.session.commit()
    assert db.session.get(Payment, payment.id).status == "processing"
    changes, audits, executions = counts(payment.id)
    assert (changes, audits, executions) == before
    assert webhooks.process(row.id).result == "moved"
    assert_captured_once(payment, stack)
