"""Real RQ workers as subprocesses (`flask worker`, forking, with the scheduler), paused at a
named step (app/pause_points.py) and killed there with SIGKILL, as a crash or an OOM kill would.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from rq import Queue, Worker
from rq.job import Job
from rq.registry import (
    DeferredJobRegistry,
    FailedJobRegistry,
    FinishedJobRegistry,
    ScheduledJobRegistry,
    StartedJobRegistry,
)
from rq.scheduler import SCHEDULER_LOCKING_KEY_TEMPLATE

from app.extensions import queues
from tests import flows

ROOT = Path(__file__).resolve().parents[2]


class Workers:
    """Start, pause and kill worker processes that share the test's database and Redis."""

    def __init__(self, app, folder: Path):
        self.app, self.folder = app, folder
        self.procs: list[subprocess.Popen] = []

    def start(self, pause_at: str | None = None, **settings: str) -> subprocess.Popen:
        # RQ_QUEUE: the queue the test process enqueues to (a test may give itself a private
        # one, see private_queue); HOLDFAST_TEST_WORKERS tags every process of this pool, work
        # horses and the scheduler included, so that stop_all finds them even orphaned.
        env = dict(os.environ, HOLDFAST_ENV="test", PYTHONUNBUFFERED="1",
                   DATABASE_URL=self.app.config["SQLALCHEMY_DATABASE_URI"],
                   REDIS_URL=os.environ["REDIS_URL"], RQ_QUEUE=self.app.config["RQ_QUEUE"],
                   HOLDFAST_TEST_WORKERS=str(self.folder), **settings)
        env.pop("HOLDFAST_PAUSE_AT", None)
        if pause_at:
            env.update(HOLDFAST_PAUSE_AT=pause_at, HOLDFAST_PAUSE_DIR=str(self.folder))
        with (self.folder / f"worker-{len(self.procs)}.log").open("wb") as log:
            proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "worker"],
                                    cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        self.procs.append(proc)
        return proc

    def paused_at(self, point: str, timeout: float = 90.0) -> int:
        """Wait until a job reaches the point; the pid of the process holding it."""
        marker = self.folder / point.replace("/", "_")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if marker.exists() and marker.read_text():
                return int(marker.read_text())
            if all(p.poll() is not None for p in self.procs):
                raise AssertionError(f"every worker exited before {point}:\n{self.explain()}")
            time.sleep(0.05)
        raise AssertionError(f"no job reached {point} in {timeout} s:\n{self.explain()}")

    def eventually(self, condition, timeout: float = 90.0, interval: float = 0.05):
        """tests/flows.eventually, but a timeout says what the workers and Redis were doing."""
        try:
            return flows.eventually(condition, timeout, interval)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.explain()}") from None

    def explain(self) -> str:
        """Why a wait failed: every worker's exit code and log, the pause markers written, what
        Redis holds (queues, registries, registered workers, scheduler locks) and every
        `flask worker` process alive on the machine (a stray one steals jobs)."""
        parts = ["--- workers started by this test"]
        parts += [f"pid {p.pid}: {'running' if p.poll() is None else f'exit {p.returncode}'}"
                  for p in self.procs]
        parts.append("--- pause markers: " + ", ".join(
            f"{m.name}={m.read_text()!r}" for m in sorted(self.folder.iterdir())
            if not m.name.startswith("worker-")))
        try:
            parts.append(redis_state())
        except Exception as exc:  # noqa: BLE001 - a report must not hide the real failure
            parts.append(f"--- Redis unreadable: {exc!r}")
        parts.append("--- flask worker processes on this machine:\n" + "\n".join(
            f"{pid} (parent {ppid}): {cmd}" for pid, ppid, cmd in _worker_processes()))
        parts.append(self.logs(limit=12000))
        return "\n".join(parts)

    def kill_at(self, point: str) -> None:
        """SIGKILL the job's process (the work horse) and every worker: nothing cleans up."""
        horse = self.paused_at(point)
        os.kill(horse, signal.SIGKILL)
        self.stop_all(signal.SIGKILL)

    def stop_all(self, sig=signal.SIGKILL) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                # RQ starts each work horse in a session of its own (setsid), out of reach of
                # the worker's process group: a horse left running after its test would finish
                # its job against the next test's rows (same ids, emptied tables).
                horses = _children(proc.pid)
                try:
                    os.killpg(proc.pid, sig)
                except ProcessLookupError:
                    pass
                for pid in horses:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                proc.wait(30)
        # A horse or scheduler whose worker died first is no longer its child: by its tag.
        for pid in _tagged(str(self.folder)):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def logs(self, limit: int = 3000) -> str:
        return "\n".join(f"--- {p.name}\n" + p.read_text(errors="replace")[-limit:]
                         for p in sorted(self.folder.glob("worker-*.log")))


def redis_state() -> str:
    """Every RQ queue's jobs and registries, workers and scheduler locks, one line each."""
    conn = queues.connection
    lines = ["--- Redis (RQ)"]
    names = sorted(q.name for q in Queue.all(connection=conn)) or [queues.queue.name]
    for name in names:
        queue = Queue(name, connection=conn)
        lines.append(f"queue {name}: {_jobs(queue.get_job_ids())}")
        for registry in (StartedJobRegistry, ScheduledJobRegistry, DeferredJobRegistry,
                         FailedJobRegistry, FinishedJobRegistry):
            found = registry(queue=queue)
            pairs = conn.zrange(found.key, 0, -1, withscores=True)
            lines.append(f"  {registry.__name__}: " + ", ".join(
                f"{raw.decode()}@{score:.0f}" for raw, score in pairs))
        lock = conn.get(SCHEDULER_LOCKING_KEY_TEMPLATE % name)
        lines.append(f"  scheduler lock: {lock!r}")
    for worker in Worker.all(connection=conn):
        lines.append(f"worker {worker.name} pid {worker.pid} state {worker.get_state()} "
                     f"queues {worker.queue_names()} job {worker.get_current_job_id()}")
    lines.append(f"(now {time.time():.0f}; scores are due times or expiries)")
    for name in names:  # why a job failed: the end of its traceback
        for job_id in FailedJobRegistry(queue=Queue(name, connection=conn)).get_job_ids()[:10]:
            job = Job.fetch_many([job_id], connection=conn)[0]
            info = (job.exc_info or "").strip().splitlines()[-3:] if job else ["gone"]
            lines.append(f"failed {job_id}: " + " | ".join(info))
    return "\n".join(lines)


def _jobs(job_ids: list[str]) -> str:
    shown = []
    for job_id, job in zip(job_ids[:40], Job.fetch_many(job_ids[:40],
                                                        connection=queues.connection)):
        shown.append(f"{job_id} ({job.func_name if job else '?'})")
    return ", ".join(shown) + (f" … {len(job_ids)} in all" if len(job_ids) > 40 else "")


def _worker_processes() -> list[tuple[int, int, str]]:
    """(pid, parent pid, command line) of every process running `flask … worker` on our Redis
    (other test runs on the machine have workers of their own)."""
    ours = f"REDIS_URL={os.environ.get('REDIS_URL')}".encode()
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
            stat = (cmdline.parent / "stat").read_text()
            environ = (cmdline.parent / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        text = " ".join(a.decode(errors="replace") for a in args if a)
        if "flask" in text and "worker" in text and ours in environ:
            found.append((int(cmdline.parent.name), int(stat.rsplit(")", 1)[1].split()[1]),
                          text[:200]))
    return found


def _tagged(folder: str) -> list[int]:
    """The pids of live processes started by the pool whose folder this is."""
    tag = f"HOLDFAST_TEST_WORKERS={folder}".encode()
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if tag in environ.read_bytes().split(b"\0"):
                found.append(int(environ.parent.name))
        except OSError:
            continue  # exited while we looked, or not ours to read
    return found


def private_queue(app) -> str:
    """Give the test an RQ queue of its own (the test process enqueues to it, the pool's
    workers listen to it); returns the previous name, for the caller to restore.

    The suite shares one Redis across the session, and a process of an earlier test can
    outlive it listening on the default queue: the browser tests' worker and its RQ
    scheduler (tests/e2e/conftest.py: their "package" fixtures last until the session ends
    when tests/ has no __init__.py, and a worker killed after a slow warm shutdown leaves
    its scheduler behind). Such a worker took a kill test's job before the paused worker
    could, and such a scheduler held the queue's scheduler lock: the job never reached its
    pause point. Nothing outside the test knows a queue name made for it."""
    import uuid

    before = app.config["RQ_QUEUE"]
    app.config["RQ_QUEUE"] = f"holdfast-proc-{uuid.uuid4().hex[:12]}"
    return before


def _children(pid: int) -> list[int]:
    """The pids whose parent is pid (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited while we looked
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def abandon_dead_jobs() -> None:
    """What time does for a dead worker, done now: its scheduler lock expires (61 s), and once
    its heartbeat (90 s) has run out RQ's maintenance retries the jobs it held if they have
    retries left, else moves them to the failed registry."""
    queues.connection.delete(SCHEDULER_LOCKING_KEY_TEMPLATE % queues.queue.name)
    StartedJobRegistry(queue=queues.queue).cleanup(time.time() + 3600)


def due_now(job_id_prefix: str) -> None:
    """Bring scheduled runs of matching jobs forward to now (the retry backoff is 5 s)."""
    registry = ScheduledJobRegistry(queue=queues.queue)
    for raw in queues.connection.zrange(registry.key, 0, -1):
        if raw.decode().startswith(job_id_prefix):
            queues.connection.zadd(registry.key, {raw: 0})
