"""SIGKILL a real forking worker at each step of each job kind — before its PSP call, after the
PSP answered but before we recorded it, just before its commit, after it — then let a fresh
worker recover: RQ's abandoned-job handling retries the job (or a sweeper, the owner of its
state, picks it up) and the effect happens exactly once, by our ledger and by the sandbox PSP's
own count of executions per idempotency key."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.clock import now
from app.domain.ledger import AccountKind
from app.extensions import db, queues
from app.models import EscrowHold, Payment, Payout, Refund
from app.services import webhooks
from app.services.audit import Actor
from app.services.money import bank_accounts, escrow, ledger, payouts
from app.services.refunds import refunds
from tests.flows import PASSWORD, paid_order, psp_call
from tests.processes.workers import Workers, abandon_dead_jobs, due_now, private_queue
from tests.services.test_svc_webhooks import paid_event, signed

SUPPORT = Actor("support@test.example", "127.0.0.1")


@pytest.fixture
def workers(app, tmp_path):
    """A pool of workers on a queue of the test's own (workers.private_queue says why)."""
    before = private_queue(app)
    pool = Workers(app, tmp_path)
    try:
        yield pool
    finally:
        pool.stop_all()
        app.config["RQ_QUEUE"] = before


def executions(stack, suffix: str) -> list[int]:
    """The sandbox's execution count of every idempotency key ending with suffix."""
    counts = psp_call(stack["psp_url"], "GET", "/v1/_stats").json()["executions"]
    return [n for key, n in counts.items() if key.endswith(suffix)]


def fresh(model, ident):
    db.session.rollback()
    return db.session.get(model, ident)


def recover(workers: Workers, job_prefix: str, **settings: str) -> None:
    """The crashed worker is gone: RQ notices, and a new worker takes over."""
    abandon_dead_jobs()
    due_now(job_prefix)
    workers.start(**settings)


def killed_and_recovered(workers, point: str, job_prefix: str, **settings: str) -> None:
    workers.kill_at(point)
    recover(workers, job_prefix, **settings)


# --- webhook, then capture ------------------------------------------------------------------

WEBHOOK = "app.jobs.webhooks.process_event"
CAPTURE = "app.jobs.payments.capture_payment"


# The webhook job commits once: the event is applied and its inbox row marked in one write
# transaction (no separate claim commit), so commit:1 is the kill just before the effect.
@pytest.mark.parametrize("point", [
    f"job:{WEBHOOK}:start", "psp:retrieve:answered", f"job:{WEBHOOK}:commit:1",
    f"job:{WEBHOOK}:end",
    f"job:{CAPTURE}:start", "psp:capture:answered", f"job:{CAPTURE}:commit:1",
    f"job:{CAPTURE}:end",
])
def test_webhook_and_capture_survive_a_killed_worker(app, people, stack, workers, point):
    payment, event = paid_event(people, stack)
    raw, headers = signed(event)
    assert webhooks.receive("sandbox", raw, headers).status == 200  # queued: inbox-<id>
    workers.start(pause_at=point)

    killed_and_recovered(workers, point, "")

    workers.eventually(lambda: fresh(Payment, payment.id).status == "captured")
    assert executions(stack, f"{payment.idempotency_key}:capture") == [1]
    changes = [c.to_status for c in fresh(Payment, payment.id).changes]
    assert changes.count("authorized") == 1 and changes.count("captured") == 1
    holds = db.session.scalar(select(func.count(EscrowHold.id))
                              .where(EscrowHold.order_id == payment.order_id))
    assert holds == 1


# --- refund ---------------------------------------------------------------------------------

SETTLE = "app.jobs.refunds.settle_refund"


@pytest.mark.parametrize("point", [f"job:{SETTLE}:start", "psp:refund:answered",
                                   f"job:{SETTLE}:commit:1",
                                   f"job:{SETTLE}:end"])
def test_a_refund_job_survives_a_killed_worker(app, client, people, stack, psp, workers, point):
    order_id = paid_order(client, people, stack, psp, {"mug": 1})
    payment = db.session.execute(select(Payment).where(Payment.order_id == order_id)).scalar_one()
    # The request that reserved this refund died before calling the PSP: the job sends it.
    refund_id = refunds._reserve(payment.id, None, 500, "damaged", SUPPORT, "support", None)
    queues.enqueue(SETTLE, refund_id, job_id=f"refund-{refund_id}")
    workers.start(pause_at=point)

    killed_and_recovered(workers, point, f"refund-{refund_id}")

    workers.eventually(lambda: fresh(Refund, refund_id).status == "succeeded")
    refund = fresh(Refund, refund_id)
    assert executions(stack, refund.idempotency_key) == [1]
    assert fresh(Payment, payment.id).amount_refunded == 500


# --- payout ---------------------------------------------------------------------------------

PAYOUT = "app.jobs.payouts.submit_payout"


def released_balance(client, people, stack, psp) -> int:
    order_id = paid_order(client, people, stack, psp, {"mug": 1})
    hold = db.session.execute(select(EscrowHold).where(EscrowHold.order_id == order_id)
                              ).scalar_one()
    escrow.support_decide(hold.id, "release", SUPPORT)
    return hold.id


@pytest.mark.parametrize("point", [f"job:{PAYOUT}:start", "psp:create_payout:answered",
                                   f"job:{PAYOUT}:commit:1", f"job:{PAYOUT}:end"])
def test_a_payout_survives_a_killed_worker(app, client, people, stack, psp, workers, point):
    seller = people["seller"]
    released_balance(client, people, stack, psp)
    bank_accounts.register_or_change(seller, PASSWORD, "Northwind", SUPPORT,
                                     iban="DE89370400440532013000")
    payout_id = payouts.book_payout(seller, "EUR", SUPPORT, manual=True)
    queues.enqueue(PAYOUT, payout_id, job_id=f"payout-submit-{payout_id}")
    workers.start(pause_at=point)

    killed_and_recovered(workers, point, f"payout-submit-{payout_id}")

    workers.eventually(lambda: fresh(Payout, payout_id).status in ("in_transit", "paid"))
    payout = fresh(Payout, payout_id)
    assert executions(stack, payout.idempotency_key) == [1]
    assert db.session.scalar(select(func.count(Payout.id))) == 1
    assert ledger.balance(AccountKind.SELLER_AVAILABLE, str(seller), "EUR") == 0


# --- escrow release -------------------------------------------------------------------------

RELEASE = "app.jobs.escrow.release_if_due"


@pytest.mark.parametrize("point", [f"job:{RELEASE}:start", f"job:{RELEASE}:commit:1", f"job:{RELEASE}:end"])
def test_an_escrow_release_survives_a_killed_worker(app, client, people, stack, psp, workers,
                                                    point):
    order_id = paid_order(client, people, stack, psp, {"mug": 1})
    hold = db.session.execute(select(EscrowHold).where(EscrowHold.order_id == order_id)
                              ).scalar_one()
    escrow.mark_shipped(people["seller"], hold.id, "T1", SUPPORT)
    hold = fresh(EscrowHold, hold.id)
    hold.release_due_at = now() - timedelta(minutes=1)
    db.session.commit()
    queues.queue.enqueue(RELEASE, hold.id, job_id=f"release-{hold.id}")  # as the timer does
    workers.start(pause_at=point)

    # No retry on the timer's job: the periodic escrow sweep is the owner of an overdue hold.
    killed_and_recovered(workers, point, "", ESCROW_SWEEP_SECONDS="1")

    workers.eventually(lambda: fresh(EscrowHold, hold.id).status == "released")
    assert ledger.balance(AccountKind.SELLER_AVAILABLE, str(people["seller"]), "EUR") == 2160
