"""Redis stops while webhooks arrive and jobs are queued, and comes back empty (as after a
FLUSHALL or a restart without persistence): the webhooks are answered 2xx because the inbox
row is durable, the worker rides out the outage, re-seeds the periodic schedule Redis lost, the
sweeper re-queues every stranded event, and each payment is captured exactly once."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time

import pytest
import redis

from app.extensions import db, queues
from app.jobs.scheduling import PERIODIC, missing_periodic
from app.models import Payment, WebhookEvent
from tests.flows import eventually, psp_call
from tests.processes.workers import Workers
from tests.services.test_svc_webhooks import paid_event, signed


class RedisServer:
    """A private redis-server on a free loopback port, without persistence."""

    def __init__(self, folder):
        self.folder, self.proc = folder, None
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [shutil.which("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        client.close()

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(10)


@pytest.fixture
def private_redis(app, tmp_path):
    """Point the app and its workers at a Redis this test may kill; restored afterwards."""
    if shutil.which("redis-server") is None:
        pytest.skip("needs a redis-server binary")
    server = RedisServer(tmp_path)
    server.start()
    saved = app.extensions.get("redis"), app.config.get("REDIS_URL")
    client = redis.Redis.from_url(server.url, socket_timeout=2, socket_connect_timeout=1)
    app.extensions["redis"], app.config["REDIS_URL"] = client, server.url
    yield server
    app.extensions["redis"], app.config["REDIS_URL"] = saved
    client.close()
    if server.proc.poll() is None:
        server.kill()


def inbox_statuses() -> list[str]:
    db.session.rollback()
    return [e.status for e in db.session.scalars(db.select(WebhookEvent).order_by(WebhookEvent.id))]


def captured(*payment_ids: int) -> bool:
    db.session.rollback()
    return all(db.session.get(Payment, i).status == "captured" for i in payment_ids)


def test_webhooks_and_jobs_survive_redis_stopping_and_coming_back_empty(
        app, client, people, stack, tmp_path, private_redis):
    workers = Workers(app, tmp_path)
    os.environ["REDIS_URL"], saved_url = private_redis.url, os.environ["REDIS_URL"]
    try:
        first, first_event = paid_event(people, stack)
        second, second_event = paid_event(people, stack)
        # Queued while no worker runs: the job lives only in Redis.
        raw, headers = signed(first_event)
        assert client.post("/webhooks/sandbox", data=raw, headers=headers).status_code == 200
        assert len(queues.queue) == 1

        workers_env = {"INBOX_SWEEP_SECONDS": "1", "INBOX_STRANDED_SECONDS": "1",
                       "PERIODIC_CHECK_SECONDS": "1"}
        private_redis.kill()  # Redis dies with the queued job in it

        raw, headers = signed(second_event)
        response = client.post("/webhooks/sandbox", data=raw, headers=headers)
        assert response.status_code == 200  # durably stored: the PSP must not resend forever
        assert client.post("/webhooks/sandbox", data=raw, headers=headers).get_json() == \
            {"received": True, "duplicate": True}
        workers.start(**workers_env)  # a worker that starts while Redis is still down
        eventually(lambda: "Redis unreachable" in workers.logs(), timeout=60)

        private_redis.start()  # back, and empty: queue and periodic schedule are gone
        eventually(lambda: captured(first.id, second.id), timeout=120)

        assert inbox_statuses() == ["processed", "processed"]
        counts = psp_call(stack["psp_url"], "GET", "/v1/_stats").json()["executions"]
        for payment in (first, second):
            assert counts[f"{payment.idempotency_key}:capture"] == 1
            changes = [c.to_status for c in db.session.get(Payment, payment.id).changes]
            assert changes.count("authorized") == 1 and changes.count("captured") == 1
        eventually(lambda: missing_periodic() == [], timeout=30)
        assert len(PERIODIC) > 1
    finally:
        workers.stop_all()
        os.environ["REDIS_URL"] = saved_url


def test_a_flushall_under_a_running_worker_restores_the_schedule(app, tmp_path, private_redis):
    workers = Workers(app, tmp_path)
    os.environ["REDIS_URL"], saved_url = private_redis.url, os.environ["REDIS_URL"]
    try:
        workers.start(PERIODIC_CHECK_SECONDS="1")
        eventually(lambda: missing_periodic() == [], timeout=60)
        # Past its first maintenance round, the worker sits idle in its blocking dequeue: the
        # FLUSHALL must not leave the schedule empty until that wait ends (RQ's is 405 s).
        eventually(lambda: "cleaning registries" in workers.logs(), timeout=60)
        queues.connection.flushall()
        assert missing_periodic() == list(PERIODIC)

        eventually(lambda: missing_periodic() == [], timeout=60)
    finally:
        workers.stop_all()
        os.environ["REDIS_URL"] = saved_url
