"""The RQ worker classes `flask worker` runs: forking (a work horse per job, the default) or
simple (every job in the worker's own process, no fork).

Either way each job runs in an application context of its own, popped when the job ends,
which removes its database session (Flask-SQLAlchemy scopes sessions by app context): under
the simple worker, jobs share one process, and a session one job left behind (its identity
map, an open transaction, its connection) would otherwise reach the next one.
"""
from __future__ import annotations

from flask import current_app
from rq import SimpleWorker

from app.jobs.scheduling import Periodic, PeriodicWorker


class JobScoped:
    """Mixed into an RQ worker class: one app context (so one session) per job."""

    def perform_job(self, job, queue):
        with current_app._get_current_object().app_context():
            return super().perform_job(job, queue)


class ForkingWorker(JobScoped, PeriodicWorker):
    """A work horse forked per job: a job that leaks memory or crashes takes only itself."""


class SimpleJobWorker(JobScoped, Periodic, SimpleWorker):
    """No fork: ≈ 10× the forking worker's jobs per second here (docs/performance.md), but a
    job that leaks memory or corrupts process state does so for every later job, and RQ's job
    timeout is an exception raised inside the job (SIGALRM) instead of a horse killed from
    outside: a job that swallows it holds the whole worker."""


WORKER_CLASSES = {"fork": ForkingWorker, "simple": SimpleJobWorker}
