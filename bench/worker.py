"""Worker throughput: webhook jobs applied per second against a no-op job, on the same RQ worker
class, for the forking `Worker` (what `flask worker` runs) and `SimpleWorker` (no fork).

The subject is the real job: app.jobs.webhooks.process_event on a stored "payment captured"
event: load the inbox row, rebuild the event, find the payment, re-fetch it from the PSP (an
in-process stub answering "captured": the PSP's latency is not ours), transition it, write the
escrow holds and the capture posting, audit, mark the row; one transaction. The baseline is a
job that does nothing, enqueued and run the same way: RQ's own cost per job (dequeue, fork or
not, result bookkeeping in Redis).

Target ≥ 0.5×: a worker should spend at least half of its time doing our work rather than
being a worker. Under a forking Worker the fork per job is part of both sides.
"""
from __future__ import annotations

import os
import time

from bench.measure import Result

TARGET = 0.5
_fork_hook = False
WORKER_CLASSES = ("Worker", "SimpleWorker")


def noop() -> None:
    """The baseline job."""


class StubPSP:
    """The sandbox as an in-process object: sessions open at once, and every payment it is
    asked about is captured in full. What needs no network (reading a stored event) is the
    real sandbox adapter's."""

    name = "sandbox"

    def __init__(self, config):
        from app.providers.sandbox import SandboxProvider

        self.real = SandboxProvider("http://127.0.0.1:9", config["SANDBOX_API_KEY"],
                                    [config["SANDBOX_WEBHOOK_SECRET"]])
        self.amounts: dict[str, int] = {}

    def create_session(self, request):
        from app.domain.payment_states import PaymentStatus
        from app.providers.base import ProviderPayment

        reference = f"ps_{request.reference}"
        self.amounts[reference] = request.amount
        return ProviderPayment(reference, PaymentStatus.PROCESSING, "open", request.amount,
                               request.currency, redirect_url="https://psp.invalid/pay")

    def retrieve(self, reference: str):
        from app.domain.payment_states import PaymentStatus
        from app.providers.base import CardDisplay, ProviderPayment

        amount = self.amounts[reference]
        return ProviderPayment(reference, PaymentStatus.CAPTURED, "captured", amount, "EUR",
                               amount_authorized=amount, amount_captured=amount,
                               fee_amount=amount * 29 // 1000 + 25,
                               card=CardDisplay("visa", "4242"))

    def __getattr__(self, name):
        return getattr(self.real, name)


def _dispose_in_child() -> None:
    from flask import has_app_context

    from app.extensions import db

    if has_app_context():  # other forks of this process (none in a bench run) have no app
        db.engine.dispose(close=False)


def open_payments(app, count: int) -> list[tuple[int, str]]:
    """`count` orders with an open PSP session each; [(payment id, PSP reference)]."""
    from app.extensions import db
    from app.models import Item, Payment
    from app.services.audit import Actor
    from bench.stack import make_users

    people = make_users({"wseller": "seller", "wbuyer": "buyer"})
    item = Item(seller_id=people["wseller"], title="Bench mug", description="",
                price_amount=2400, currency="EUR", stock=10**9, active=True)
    db.session.add(item)
    db.session.commit()
    actor = Actor("wbuyer@bench.example", "127.0.0.1", people["wbuyer"])
    with app.test_request_context():  # start_payment builds the PSP's return URLs
        _checkouts(people["wbuyer"], item.id, actor, count)
    rows = db.session.query(Payment.id, Payment.psp_reference).order_by(Payment.id).all()
    return [(pid, ref) for pid, ref in rows][-count:]


def _checkouts(buyer_id: int, item_id: int, actor, count: int) -> None:
    from app.extensions import db
    from app.services.checkout import checkout, orders
    from app.services.shop import cart

    people = {"wbuyer": buyer_id}
    for _ in range(count):
        cart.set_quantity(people["wbuyer"], item_id, 1, add=True)
        db.session.commit()
        order_id = orders.place_order(people["wbuyer"], "EUR", actor)
        checkout.start_payment(order_id, people["wbuyer"], "hosted", actor)


def store_events(payments: list[tuple[int, str]], tag: str) -> list[int]:
    """One stored "captured" event per payment, as receive() stores it; the inbox ids."""
    import json

    from app.extensions import db
    from app.models import WebhookEvent

    rows = [WebhookEvent(provider="sandbox", event_id=f"evt_{tag}_{pid}",
                         event_type="payment_session.captured", object_id=ref,
                         payload=json.dumps({
                             "id": f"evt_{tag}_{pid}", "type": "payment_session.captured",
                             "data": {"object": {"id": ref, "object": "payment_session",
                                                 "status": "captured"}}}))
            for pid, ref in payments]
    db.session.add_all(rows)
    db.session.commit()
    return [row.id for row in rows]


def _cpu() -> float:
    # This process and its finished children (the forked horses): CPU seconds, which the other
    # engineers' load on this machine does not inflate the way it inflates wall time.
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def drain(worker_class: str, jobs: list[tuple[str, tuple]],
          cpu: list[float] | None = None) -> float:
    """Enqueue the jobs, then time one burst worker of that class emptying the queue; jobs/s.
    `cpu` gets the CPU seconds per job appended."""
    import rq

    from app.extensions import queues
    from app.jobs.workers import JobScoped, Preloaded

    queue = queues.queue
    queue.empty()
    for func, args in jobs:
        queue.enqueue(func, *args)
    # As `flask worker` runs them (app/jobs/workers.py): a per-job app context, and the
    # worker's process preloaded before its first job, for the no-op as for the subject.
    worker = type(worker_class, (JobScoped, Preloaded, getattr(rq, worker_class)), {})(
        [queue], connection=queues.connection)
    start, cpu_start = time.perf_counter(), _cpu()
    worker.work(burst=True, logging_level="WARNING")
    elapsed = time.perf_counter() - start
    if cpu is not None:
        cpu.append((_cpu() - cpu_start) / len(jobs))
    if queue.count or queue.failed_job_registry.count:
        raise RuntimeError(f"{worker_class}: {queue.failed_job_registry.count} jobs failed")
    return len(jobs) / elapsed


def run(app, count: int, rounds: int) -> list[Result]:
    """Per worker class: process_event jobs/s against no-op jobs/s."""
    global _fork_hook
    if not _fork_hook:  # the forked work horse must not reuse the parent's connections
        os.register_at_fork(after_in_child=_dispose_in_child)
        _fork_hook = True
    stub = StubPSP(app.config)
    app.extensions.setdefault("holdfast_providers", {})["sandbox"] = stub
    payments = iter(open_payments(app, count * rounds * len(WORKER_CLASSES)))
    results = []
    for worker_class in WORKER_CLASSES:
        subject_rates, noop_rates, subject_cpu, noop_cpu = [], [], [], []
        for _ in range(rounds):  # alternating, each side keeps its best round
            batch = [next(payments) for _ in range(count)]
            inbox_ids = store_events(batch, worker_class)
            noop_rates.append(drain(worker_class, [("bench.worker.noop", ())] * count,
                                    noop_cpu))
            subject_rates.append(drain(worker_class, [("app.jobs.webhooks.process_event", (i,))
                                                      for i in inbox_ids], subject_cpu))
            _check_captured(worker_class, batch)
        subject, noop_rate = max(subject_rates), max(noop_rates)
        cpu_s, cpu_n = min(subject_cpu) * 1000, min(noop_cpu) * 1000
        results.append(Result(
            f"worker throughput ({worker_class}): webhook jobs applied vs no-op jobs",
            "jobs/s", subject, noop_rate, TARGET,
            note=f"{count} jobs × best of {rounds} rounds; each event a capture (re-fetch, "
                 f"transition, escrow, ledger, audit); CPU per job {cpu_s:.1f} vs "
                 f"{cpu_n:.1f} ms ({cpu_n / cpu_s:.3f}×, horses included)"))
    return results


def _check_captured(worker_class: str, batch: list[tuple[int, str]]) -> None:
    # A benchmark whose jobs did nothing must break, not PASS.
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models import Payment

    db.session.rollback()
    captured = db.session.scalar(select(func.count()).select_from(Payment).where(
        Payment.id.in_([pid for pid, _ in batch]), Payment.status == "captured"))
    if captured != len(batch):
        raise RuntimeError(f"{worker_class}: {captured} of {len(batch)} payments captured")
