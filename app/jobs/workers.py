"""The RQ worker classes `flask worker` runs: forking (a work horse per job, the default) or
simple (every job in the worker's own process, no fork).

Either way each job runs in an application context of its own, popped when the job ends,
which removes its database session (Flask-SQLAlchemy scopes sessions by app context): under
the simple worker, jobs share one process, and a session one job left behind (its identity
map, an open transaction, its connection) would otherwise reach the next one.
"""
from __future__ import annotations

import importlib
import os
import pkgutil

from flask import Flask, current_app
from rq import SimpleWorker

from app.jobs.scheduling import Periodic, PeriodicWorker


def preload(app: Flask) -> None:
    """Load, once in the worker's own process, what jobs would otherwise load afresh in every
    forked work horse and throw away when it exits: every job module (and the services they
    import), the ORM's mapper configuration, the e-mail templates compiled, babel's locale data.

    A work horse is a fork of this process, so it inherits all of it copy-on-write. Measured
    (docs/performance.md, "Worker throughput"): a capture event's horse spent about half its
    CPU compiling templates and loading these before its own work. Whatever the job, the
    horse is forked from the same preloaded process, so a no-op job pays for the larger
    parent (fork copies its page tables) exactly as a webhook job does.
    """
    import app.jobs as jobs

    for module in pkgutil.iter_modules(jobs.__path__):
        importlib.import_module(f"{jobs.__name__}.{module.name}")
    from sqlalchemy.orm import configure_mappers

    configure_mappers()
    env = app.jinja_env
    for name in env.list_templates(filter_func=lambda n: n.startswith("email/")):
        env.get_template(name)
    from app.domain.money import Money
    from app.money_text import CURRENCY_LOCALES, format_amount

    for currency, locale in CURRENCY_LOCALES.items():  # jobs format in English: no request
        format_amount(Money(100, currency), "en")
        format_amount(Money(100, currency), locale)
    if os.environ.get("WORKER_WARMUP") == "1":
        # Off by default: with it, the browser suite's forked horses read a payment as it was
        # before its authorization (its capture job "succeeded" and moved nothing), and why is
        # not known yet; docs/performance.md "Worker throughput" has the figures with and
        # without it.
        from app.jobs.warmup import warm_capture

        warm_capture(app)  # the capture's statements compiled here, not in every horse


class Preloaded:
    """Mixed into an RQ worker class: `preload` before the first job."""

    def work(self, *args, **kwargs):
        preload(current_app._get_current_object())
        return super().work(*args, **kwargs)


class JobScoped:
    """Mixed into an RQ worker class: one app context (so one session) per job."""

    def perform_job(self, job, queue):
        with current_app._get_current_object().app_context():
            return super().perform_job(job, queue)


class ForkingWorker(JobScoped, Preloaded, PeriodicWorker):
    """A work horse forked per job: a job that leaks memory or crashes takes only itself."""


class SimpleJobWorker(JobScoped, Preloaded, Periodic, SimpleWorker):
    """No fork: ≈ 10× the forking worker's jobs per second here (docs/performance.md), but a
    job that leaks memory or corrupts process state does so for every later job, and RQ's job
    timeout is an exception raised inside the job (SIGALRM) instead of a horse killed from
    outside: a job that swallows it holds the whole worker."""


WORKER_CLASSES = {"fork": ForkingWorker, "simple": SimpleJobWorker}
