"""Browser journeys: Chromium (Playwright, sync API) against what `make run` runs: the live
platform, both sandbox PSP instances (EU "sandbox", US "sandbox_us") and the shipped routing
file (tests/e2e/topology.py), and a real `flask worker`.

Webhooks flow for real here: each sandbox's background deliverer POSTs them to its own endpoint
of the live platform, and the worker subprocess runs the jobs they cause. Nothing in this folder
flushes Redis, since that would wipe the live worker's registration. Every page watches for
console errors, failed requests to our origins and CSP violations (tests/e2e/watch.py).
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

# Playwright's assertions retry until their condition holds; 5 s (its default) is too short a
# bound for a 2-core machine running other work, so they get the same bound as actions.
expect.set_options(timeout=30_000)

ROOT = Path(__file__).resolve().parents[2]
E2E_TMP = Path(tempfile.mkdtemp(prefix="holdfast-e2e-"))
SCAN_MODULE = "test_e2e_card_data_scan.py"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
VIEWPORT = {"width": 1200, "height": 800}
AXE_TIMINGS: list[tuple[str, float]] = []  # (path, seconds) of every axe-core check


def pytest_terminal_summary(terminalreporter):
    """What the accessibility checks cost, so a slower suite can be traced to them."""
    if AXE_TIMINGS:
        total = sum(seconds for _, seconds in AXE_TIMINGS)
        terminalreporter.write_line(
            f"axe-core: {len(AXE_TIMINGS)} page checks, {total:.1f} s in all "
            f"({total / len(AXE_TIMINGS):.2f} s each on average)")


def pytest_collection_modifyitems(config, items):
    """Run the card-data scan after every other browser test, wherever pytest collected it."""
    here = Path(__file__).parent
    scans = [item for item in items if item.path.name == SCAN_MODULE]
    if not scans:
        return
    rest = [item for item in items if item.path.name != SCAN_MODULE]
    last_e2e = max((i for i, item in enumerate(rest) if here in item.path.parents), default=-1)
    items[:] = rest[:last_e2e + 1] + scans + rest[last_e2e + 1:]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item, so the page fixture knows if the test failed."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def e2e_record():
    """What the journeys did, for the card-data scan: cards typed, worker logs, platform requests."""
    return {"journeys": [], "cards": set(), "worker_logs": [], "platform_requests": []}


@pytest.fixture(scope="package", autouse=True)
def topology(stack):
    """Both sandbox instances and the shipped routing file, for every browser test; the tests
    outside this folder keep their one-sandbox stack. Instances by provider name."""
    from tests.e2e.topology import like_make_run

    folder = E2E_TMP / "instance"
    folder.mkdir(exist_ok=True)
    with like_make_run(stack, folder) as instances:
        yield instances


class WorkerPool:
    """The real RQ worker process of the browser tests, started again only when a module's
    environment differs from the one it was started with.

    A module that configures a PSP fake or a mail server does so through the environment before
    its worker starts (psp_fakes.settings_in_force, the mail module's `mailer`), so each module
    still gets a worker that read exactly its settings; modules with the same settings (most of
    them) share one instead of paying a worker's start-up (importing the whole app) and
    shutdown every time. A worker started with a module's own settings stops with the module,
    as before: it must not run scheduled jobs against that module's fakes once they are gone."""

    IGNORED = ("PYTEST_CURRENT_TEST",)  # pytest rewrites it for every test phase

    def __init__(self, stack, e2e_record):
        self.stack, self.record = stack, e2e_record
        self.proc, self.env, self.log_path = None, None, None
        self.baseline = self._settings(os.environ)  # the topology's, before any module's own

    def _settings(self, env) -> dict:
        return {k: v for k, v in env.items() if k not in self.IGNORED}

    def worker_for(self, env: dict) -> dict:
        settings = self._settings(env)
        if self.proc is None or self.proc.poll() is not None or settings != self.env:
            self.stop()
            self._start(env)
            self.env = settings
        return {"pid": self.proc.pid, "log": self.log_path}

    def _start(self, env: dict) -> None:
        from rq import Worker

        from app.extensions import queues

        self.log_path = E2E_TMP / f"worker-{len(self.record['worker_logs'])}.log"
        self.record["worker_logs"].append(self.log_path)
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "flask", "--app", "wsgi", "worker"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        with self.stack["app"].app_context():
            deadline = time.monotonic() + 30
            while not any(w.pid == self.proc.pid
                          for w in Worker.all(connection=queues.connection)):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(
                        f"worker did not register:\n{self.log_path.read_text()[-2000:]}")
                time.sleep(0.05)

    def release(self) -> None:
        """A module is done with the worker: keep it only if it runs on the shared settings."""
        if self.env != self.baseline:
            self.stop()

    def stop(self) -> None:
        if self.proc is None:
            return
        proc, self.proc, self.env = self.proc, None, None
        proc.terminate()  # SIGTERM: RQ's warm shutdown, the current job finishes first
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@pytest.fixture(scope="package")
def worker_pool(stack, topology, e2e_record):
    """The browser tests' worker (WorkerPool), stopped before the topology it was wired to."""
    pool = WorkerPool(stack, e2e_record)
    yield pool
    pool.stop()


@pytest.fixture(scope="module")
def live_worker(stack, topology, worker_pool):
    """Each sandbox's webhook deliverer plus a real RQ worker process started with this
    module's environment (shared with the previous module when that was the same)."""
    from sandbox_psp.webhooks import start_deliverer

    deliverers = [start_deliverer(psp.app, interval=0.1) for psp in topology.values()]
    try:
        yield worker_pool.worker_for(os.environ.copy())
    finally:
        for deliverer in deliverers:
            deliverer.stop()
        worker_pool.release()


@pytest.fixture
def shop(stack, topology, live_worker, password_hash):
    """Empty tables plus the test people and items (ids by name), Redis left alone but for
    fraud screening's sliding windows."""
    from app.extensions import db, queues
    from tests.conftest import _empty_tables
    from tests.flows import make_people

    with stack["app"].app_context():
        _empty_tables(db)
        # Fraud screening's memory of earlier tests' declines (all from 127.0.0.1) is cleared
        # with the tables they belonged to; the queue's keys are left to the worker.
        for key in queues.connection.scan_iter("fraud:*"):
            queues.connection.delete(key)
        Path(stack["app"].config["AUDIT_ANCHOR_FILE"]).unlink(missing_ok=True)  # as tables
        yield make_people(password_hash)
        _settle(topology)
        db.session.remove()


def _settle(topology, timeout: float = 60.0) -> None:
    """Wait until no webhook is due and no job is queued or running, so the next test starts
    clean; fail if that never happens (a busy machine is slow, but a stuck job is a finding)."""
    from rq.registry import StartedJobRegistry

    from app.extensions import queues
    from sandbox_psp.models import Delivery
    from sandbox_psp.models import db as psp_db

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        due = 0
        for psp in topology.values():
            with psp.app.app_context():
                due += psp_db.session.scalar(
                    psp_db.select(psp_db.func.count()).select_from(Delivery)
                    .where(Delivery.status == "pending",
                           Delivery.next_attempt_at <= time.time() + 1))
                psp_db.session.remove()
        queue = queues.queue
        running = StartedJobRegistry(queue=queue).get_job_ids()
        if not due and not len(queue) and not running:
            return
        time.sleep(0.1)
    pytest.fail(f"not settled after {timeout:.0f} s: {due} webhooks due, {len(queue)} jobs "
                f"queued, running {running}")


@pytest.fixture(scope="session")
def browser():
    """One headless Debian Chromium for the session (never `playwright install`)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"),
            args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page_errors(request, stack, topology):
    """The page's watcher; the test's `allow_console` markers are its expectations."""
    from tests.e2e.watch import PageErrors

    errors = PageErrors([stack["url"], *(psp.url for psp in topology.values())])
    for marker in request.node.iter_markers("allow_console"):
        errors.expect(*marker.args)
    return errors


@pytest.fixture
def page(request, browser, stack, topology, e2e_record, page_errors):
    """A fresh context and page; every request to the platform is recorded for the scan, every
    page of ours is checked with axe-core, and the test fails on any finding of the watcher it
    did not declare."""
    from tests.e2e.watch import AxeCheck

    context = browser.new_context(viewport=VIEWPORT, base_url=stack["url"])
    # Upper bounds, not waits: each action returns as soon as its condition holds; the bound
    # only needs to outlast a busy 2-core machine.
    context.set_default_timeout(30_000)
    page_errors.watch(context)
    context.on("page", AxeCheck(page_errors, AXE_TIMINGS).watch)  # every tab of the test
    page = context.new_page()

    def record(req):
        if req.url.startswith(stack["url"]):
            e2e_record["platform_requests"].append(f"{req.method} {req.url} {req.post_data or ''}")

    page.on("request", record)
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        shots = E2E_TMP / "failures"
        shots.mkdir(exist_ok=True)
        path = shots / f"{request.node.name}.png"
        try:
            page.screenshot(path=str(path), full_page=True)
            print(f"\nscreenshot of the failure: {path}")
        except Exception as exc:  # a crashed page must not hide the test's own failure
            print(f"\nno screenshot: {exc}")
        print(_diagnosis(stack, topology))
    try:
        page.evaluate("0")  # a round trip: the browser's pending events reach the watcher
    except Exception:  # a closed or crashed page has nothing more to say
        pass
    context.close()
    problems = page_errors.problems()
    if report is not None and report.failed:
        print(page_errors.report())
    elif problems:
        pytest.fail("the browser saw what this test does not expect:\n  "
                    + "\n  ".join(problems) + "\n" + page_errors.report(), pytrace=False)


def _diagnosis(stack, topology) -> str:
    """Payments, inbox rows and the sandboxes' deliveries, printed when a journey fails."""
    from app.extensions import db
    from app.models import Payment, WebhookEvent
    from sandbox_psp.models import Delivery
    from sandbox_psp.models import db as psp_db

    lines = ["--- platform payments / inbox, sandbox deliveries ---"]
    with stack["app"].app_context():
        lines += [f"payment {p.id} order {p.order_id} {p.status} {p.provider} {p.psp_reference}"
                  for p in db.session.query(Payment)]
        lines += [f"inbox {e.id} {e.event_type} {e.object_id} {e.status} {e.last_error or ''}"
                  for e in db.session.query(WebhookEvent)]
        db.session.remove()
    for psp in topology.values():
        with psp.app.app_context():
            rows = psp_db.session.query(Delivery).order_by(Delivery.id.desc()).limit(8)
            lines += [f"{psp.name} delivery {d.id} {d.event.type} {d.status} "
                      f"attempts={d.attempt_count} {[(a.status_code, a.error) for a in d.attempts]}"
                      for d in rows]
            psp_db.session.remove()
    return "\n".join(lines)


@pytest.fixture
def journey(request, e2e_record):
    """Record that a journey ran, the cards it typed and how long it took (for the card-data
    scan and the report)."""
    started = time.monotonic()
    yield e2e_record["cards"]
    e2e_record["journeys"].append((request.node.name, round(time.monotonic() - started, 2)))
