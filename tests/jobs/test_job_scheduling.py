"""Delayed and periodic jobs on RQ's scheduler: the sweeper keeps itself alive, the janitor's
cadence ends."""
from __future__ import annotations

from datetime import timedelta

from rq.job import Job
from rq.registry import ScheduledJobRegistry
from rq.scheduler import RQScheduler

from app.extensions import queues
from app.jobs.scheduling import run_periodic, schedule_periodic
from app.models import WebhookEvent
from app.services.payments.janitor import JANITOR_DELAYS, schedule_janitor
from tests.flows import run_jobs


def scheduled() -> dict[str, float]:
    """Scheduled job ids and when they are due (unix time)."""
    registry = ScheduledJobRegistry(queue=queues.queue)
    return dict(queues.connection.zrange(registry.key, 0, -1, withscores=True))


def run_due_now(job_id: str) -> None:
    """Act as RQ's scheduler at the job's due time, then as a worker."""
    registry = ScheduledJobRegistry(queue=queues.queue)
    queues.connection.zadd(registry.key, {job_id: 0})
    scheduler = RQScheduler([queues.queue], connection=queues.connection)
    scheduler.acquire_locks()
    scheduler.enqueue_scheduled_jobs()
    scheduler.release_locks()
    run_jobs()


def test_the_sweeper_reschedules_itself(app):
    assert run_periodic("sweeper") == 0

    assert list(scheduled()) == [b"periodic-sweeper"]


def test_the_sweeper_keeps_running_under_a_worker(app, people):
    from app.extensions import db

    app.config["INBOX_SWEEP_SECONDS"] = 3600  # longer than RQ's default result TTL
    try:
        schedule_periodic(("sweeper",))
        for _ in range(3):
            run_due_now("periodic-sweeper")
            job = Job.fetch("periodic-sweeper", connection=queues.connection)
            assert b"periodic-sweeper" in scheduled()
            # Still there when the next run is due, an hour from now.
            assert queues.connection.ttl(job.key) == -1
    finally:
        app.config["INBOX_SWEEP_SECONDS"] = 60
    assert db.session.query(WebhookEvent).count() == 0


def test_seeding_twice_never_doubles_a_periodic_job(app):
    schedule_periodic()
    schedule_periodic()
    run_periodic("sweeper")

    ids = sorted(scheduled())
    assert ids == sorted(set(ids)) and b"periodic-sweeper" in ids


def test_janitor_cadence_and_its_end(app):
    assert schedule_janitor(7) is True
    assert schedule_janitor(7, 1) is True
    assert schedule_janitor(7, len(JANITOR_DELAYS)) is False

    due = scheduled()
    assert set(due) == {b"janitor-7", b"janitor-7-1"}
    assert Job.fetch("janitor-7-1", connection=queues.connection).args == (7, 1)
    gap = due[b"janitor-7-1"] - due[b"janitor-7"]
    expected = (JANITOR_DELAYS[1] - JANITOR_DELAYS[0]).total_seconds()
    assert abs(gap - expected) < 5
    assert JANITOR_DELAYS[0] == timedelta(minutes=5)


def test_scheduling_the_same_attempt_twice_keeps_one_job(app):
    schedule_janitor(8)
    schedule_janitor(8)

    assert list(scheduled()) == [b"janitor-8"]


def test_an_idle_worker_wakes_at_each_periodic_check(app):
    """After a FLUSHALL nothing is left to dequeue: the worker must still come out of its
    blocking wait in time to run maintenance and re-seed the schedule."""
    from app.jobs.scheduling import PeriodicWorker

    worker = PeriodicWorker([queues.queue], connection=queues.connection, maintenance_interval=3)
    assert worker.dequeue_timeout == 3
    assert PeriodicWorker([queues.queue], connection=queues.connection,
                          maintenance_interval=3600).dequeue_timeout == 405  # RQ's own bound
