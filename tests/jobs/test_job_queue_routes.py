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
