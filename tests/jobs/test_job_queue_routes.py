"""RQ_QUEUE_ROUTES: webhooks (and others) on queues of their own, so workers can put them first."""
from __future__ import annotations

from app.queues import queue_routes

ROUTES = "app.jobs.webhooks=hf-webhooks, app.jobs.notifications=hf-notifications"


def test_the_setting_reads_as_prefix_to_queue():
    assert queue_routes(ROUTES) == {"app.jobs.webhooks": "hf-webhooks",
                                    "app.jobs.notifications": "hf-notifications"}
    assert queue_routes("") == {} and queue_routes("nonsense") == {}


def test_without_routes_every_job_goes_to_the_one_queue(app):
    from app.extensions import queues

    job = queues.enqueue("app.jobs.webhooks.process_event", 1, job_id="inbox-1")
    assert job.origin == app.config["RQ_QUEUE"]
    assert [q.name for q in queues.all_queues()] == [app.config["RQ_QUEUE"]]


def test_routed_jobs_land_on_their_queue_and_the_rest_on_the_default(app, monkeypatch):
    from datetime import timedelta

    from app.extensions import queues
    from app.jobs.scheduling import schedule_periodic

    monkeypatch.setitem(app.config, "RQ_QUEUE_ROUTES", ROUTES)
    assert queues.enqueue("app.jobs.webhooks.process_event", 1).origin == "hf-webhooks"
    assert queues.enqueue("app.jobs.webhooksx.other", 1).origin == app.config["RQ_QUEUE"]
    assert queues.enqueue("app.jobs.payouts.submit_payout", 1).origin == app.config["RQ_QUEUE"]
    later = queues.enqueue_in(timedelta(seconds=60), "app.jobs.webhooks.sweep_inbox")
    assert later.origin == "hf-webhooks"
    # A periodic job is routed by the function it runs, not by its runner.
    schedule_periodic(("notifications", "escrow"))
    assert "periodic-notifications" in queues.named("hf-notifications").scheduled_job_registry
    assert "periodic-escrow" in queues.queue.scheduled_job_registry
    # A worker started without --queue listens to all of them, routed ones first.
    assert [q.name for q in queues.all_queues()] == ["hf-webhooks", "hf-notifications",
                                                     app.config["RQ_QUEUE"]]


def test_a_routed_periodic_chain_counts_as_present(app, monkeypatch):
    """The worker's maintenance round re-seeds missing chains: a chain on a routed queue must
    be found there, or it would be re-seeded (its next run pushed back) every round."""
    from app.extensions import queues
    from app.jobs.scheduling import PERIODIC, ensure_periodic, missing_periodic, schedule_periodic

    monkeypatch.setitem(app.config, "RQ_QUEUE_ROUTES", ROUTES)
    schedule_periodic()
    assert missing_periodic() == []
    assert ensure_periodic() == []
    queues.named("hf-webhooks").scheduled_job_registry.remove("periodic-sweeper")
    assert missing_periodic() == ["sweeper"]
    assert ensure_periodic() == ["sweeper"] and len(PERIODIC) > 1
    assert "periodic-sweeper" in queues.named("hf-webhooks").scheduled_job_registry


def test_a_delayed_job_is_scheduled_in_one_round_trip_and_runs_when_due(app, monkeypatch):
    """enqueue_in sends the job hash, its status and the scheduled registry entry in one
    MULTI/EXEC (checkout schedules its expiry job on the buyer's request path), and the
    scheduler then queues it as it would one RQ scheduled itself."""
    import time
    from datetime import timedelta

    from redis.client import Pipeline, Redis
    from rq.job import Job, JobStatus

    from app.extensions import queues

    sent = []
    real_command, real_pipeline = Redis.execute_command, Pipeline.execute
    monkeypatch.setattr(Redis, "execute_command",
                        lambda self, *a, **k: sent.append(a[0]) or real_command(self, *a, **k))
    monkeypatch.setattr(Pipeline, "execute",
                        lambda self, *a, **k: sent.append("PIPELINE") or
                        real_pipeline(self, *a, **k))
    job = queues.enqueue_in(timedelta(seconds=60), "app.jobs.payments.expire_payment", 7,
                            job_id="expire-7")
    assert sent == ["PIPELINE"]
    monkeypatch.undo()
    registry = queues.queue.scheduled_job_registry
    assert "expire-7" in registry
    assert abs(registry.get_scheduled_time(job).timestamp() - (time.time() + 60)) < 5
    stored = Job.fetch("expire-7", connection=queues.connection)
    assert stored.get_status() == JobStatus.SCHEDULED and stored.args == (7,)
    assert stored.func_name == "app.jobs.payments.expire_payment"
    registry.schedule(job, registry.get_scheduled_time(job) - timedelta(seconds=120))  # due
    from rq.scheduler import RQScheduler

    scheduler = RQScheduler([queues.queue], connection=queues.connection)
    scheduler.acquire_locks()
    try:
        scheduler.enqueue_scheduled_jobs()
    finally:
        scheduler.release_locks()
    assert "expire-7" in queues.queue.job_ids
