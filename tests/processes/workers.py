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

from rq.registry import ScheduledJobRegistry, StartedJobRegistry
from rq.scheduler import SCHEDULER_LOCKING_KEY_TEMPLATE

from app.extensions import queues

ROOT = Path(__file__).resolve().parents[2]


class Workers:
    """Start, pause and kill worker processes that share the test's database and Redis."""

    def __init__(self, app, folder: Path):
        self.app, self.folder = app, folder
        self.procs: list[subprocess.Popen] = []

    def start(self, pause_at: str | None = None, **settings: str) -> subprocess.Popen:
        env = dict(os.environ, HOLDFAST_ENV="test", PYTHONUNBUFFERED="1",
                   DATABASE_URL=self.app.config["SQLALCHEMY_DATABASE_URI"],
                   REDIS_URL=os.environ["REDIS_URL"], **settings)
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
                raise AssertionError(f"every worker exited before {point}:\n{self.logs()}")
            time.sleep(0.05)
        raise AssertionError(f"no job reached {point} in {timeout} s:\n{self.logs()}")

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

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-3000:]
                         for p in sorted(self.folder.glob("worker-*.log")))


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
