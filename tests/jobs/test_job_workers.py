"""The worker classes `flask worker` runs: under the simple worker (no fork) jobs share one
process, so each job must end its database session and app context before the next starts."""
from __future__ import annotations

import pytest
from flask import current_app, g
from sqlalchemy import select

from app.extensions import db, queues
from app.jobs.workers import WORKER_CLASSES, ForkingWorker, SimpleJobWorker
from app.models import Item


def seen() -> list[dict]:
    # On the app, not in this module: RQ imports the job functions by their dotted name,
    # which may be a second copy of this module beside the one pytest imported.
    return current_app.extensions.setdefault("test_job_workers_seen", [])


def leave_things_behind(item_id: int) -> None:
    """A careless job: loads a row, changes it without committing, leaves a value on `g`."""
    item = db.session.get(Item, item_id)
    item.title = "changed, never committed"
    g.left_behind = True
    seen().append({"session": id(db.session()), "in_map": len(db.session.identity_map),
                 "transaction": db.session().in_transaction()})


def look_around(item_id: int) -> None:
    """The next job: what does it inherit?"""
    seen().append({"session": id(db.session()), "in_map": len(db.session.identity_map),
                 "transaction": db.session().in_transaction(),
                 "g": getattr(g, "left_behind", False),
                 "title": db.session.scalar(select(Item.title).where(Item.id == item_id))})


def fail_midway(item_id: int) -> None:
    db.session.get(Item, item_id).title = "half written"
    db.session.flush()  # the UPDATE is sent, inside an open transaction
    raise RuntimeError("the job fails after writing")


@pytest.fixture(autouse=True)
def fresh(app):
    seen().clear()
    queues.queue.empty()


def _work(*jobs) -> None:
    for func, item_id in jobs:
        queues.queue.enqueue(f"tests.jobs.test_job_workers.{func}", item_id, retry=None)
    SimpleJobWorker([queues.queue], connection=queues.connection).work(
        burst=True, with_scheduler=False, logging_level="WARNING")


def test_a_jobs_session_and_app_context_do_not_reach_the_next_job(app, people):
    item_id = people["mug"]
    title = db.session.get(Item, item_id).title
    db.session.commit()  # the suite's own session holds no lock the jobs would wait on
    _work(("leave_things_behind", item_id), ("look_around", item_id))
    first, second = seen()
    assert first["in_map"] >= 1 and first["transaction"]
    assert second["in_map"] == 0 and not second["transaction"] and not second["g"]
    assert second["title"] == title  # the uncommitted change was rolled back, not carried
    assert second["session"] != id(db.session())  # not the worker's (here: the test's) session


def test_a_failed_job_leaves_no_open_transaction_behind(app, people):
    item_id = people["mug"]
    title = db.session.get(Item, item_id).title
    db.session.commit()
    _work(("fail_midway", item_id), ("look_around", item_id))
    (after,) = seen()
    assert after["in_map"] == 0 and not after["transaction"]
    assert after["title"] == title
    assert queues.queue.failed_job_registry.count == 1


def test_flask_worker_offers_both_classes():
    assert WORKER_CLASSES == {"fork": ForkingWorker, "simple": SimpleJobWorker}


@pytest.mark.parametrize("env, chosen", [({}, "fork"), ({"WORKER_CLASS": "simple"}, "simple")])
def test_flask_worker_runs_the_class_asked_for(app, monkeypatch, env, chosen):
    import os

    from app.jobs import scheduling, workers

    ran = []

    class Recorder:
        def __init__(self, queues_, **kwargs):
            self.queues = queues_

        def work(self, **kwargs):
            ran.append((type(self).kind, kwargs["burst"], kwargs["with_scheduler"]))

    monkeypatch.setattr(os, "register_at_fork", lambda **kwargs: None)
    monkeypatch.setattr(scheduling, "seed_when_reachable", lambda: None)
    for kind in ("fork", "simple"):
        monkeypatch.setitem(workers.WORKER_CLASSES, kind,
                            type(f"Recorder_{kind}", (Recorder,), {"kind": kind}))
    result = app.test_cli_runner().invoke(args=["worker", "--burst"], env=env)
    assert result.exit_code == 0, result.output
    assert ran == [(chosen, True, True)]
    refused = app.test_cli_runner().invoke(args=["worker", "--class", "thread"])
    assert refused.exit_code == 2 and "thread" in refused.output


def what_the_horse_inherited() -> dict:
    """Run in a forked work horse: what was loaded before the job started?"""
    import sys

    cached = {t.name for t in current_app.jinja_env.cache.values()}
    return {"templates": sorted(n for n in cached if n.startswith("email/")),
            "webhook_job": "app.jobs.webhooks" in sys.modules,
            "pid": __import__("os").getpid()}


def test_a_forked_horse_inherits_the_preloaded_process(app):
    """The forking worker preloads before its first job (app/jobs/workers.preload): the horse,
    a fork of it, starts with the e-mail templates compiled and every job module imported."""
    import os

    current_app.jinja_env.cache.clear()  # as a fresh `flask worker` process has it
    job = queues.queue.enqueue("tests.jobs.test_job_workers.what_the_horse_inherited",
                               retry=None)
    ForkingWorker([queues.queue], connection=queues.connection).work(
        burst=True, with_scheduler=False, logging_level="WARNING")

    seen_in_horse = job.return_value(refresh=True)
    emails = sorted(n for n in current_app.jinja_env.list_templates() if n.startswith("email/"))
    assert seen_in_horse["pid"] != os.getpid()  # it really ran in a fork
    assert emails and seen_in_horse["templates"] == emails
    assert seen_in_horse["webhook_job"]
