"""RQ's stand-in for a simulated run: `queues.enqueue`/`enqueue_in`/`enqueue_many` land in
`Jobs` (ready and scheduled by id), RQ's retry schedule (5 tries: 5 s … 30 min) is kept, and
the run (sim/world.World) picks which ready job runs next and when the clock promotes the rest.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sim.seams import SimClock

RETRY_INTERVALS = [5, 30, 120, 600, 1800]   # app/queues.Queues.enqueue's Retry


@dataclass
class Job:
    func: str
    args: tuple
    retry: bool
    attempts: int = 0


@dataclass
class Jobs:
    """Ready and scheduled jobs by id (an id enqueued again replaces the earlier one, as a
    fixed RQ job id does), and the dead letters of jobs that used up their retries."""

    clock: SimClock
    ready: dict = field(default_factory=dict)
    scheduled: dict = field(default_factory=dict)   # id → (due, Job)
    dead: list = field(default_factory=list)
    counter: int = 0
    down: bool = False     # Redis unreachable: nothing can be enqueued, promoted or dequeued

    def _reachable(self) -> None:
        if self.down:
            from redis.exceptions import ConnectionError as RedisDown

            raise RedisDown("Error 111 connecting to Redis. Connection refused. (simulated)")

    def enqueue(self, func, *args, retry=True, job_id=None):
        self._reachable()
        self.counter += 1
        self.ready[job_id or f"job-{self.counter}"] = Job(func, args, retry)

    def enqueue_in(self, delay, func, *args, job_id=None, result_ttl=None):
        self._reachable()
        self.counter += 1
        self.scheduled[job_id or f"job-{self.counter}"] = (self.clock() + delay.total_seconds(),
                                                           Job(func, args, False))

    def promote(self) -> None:
        if self.down:
            return
        for job_id, (due, job) in sorted(self.scheduled.items(), key=lambda kv: kv[1][0]):
            if due <= self.clock():
                del self.scheduled[job_id]
                self.ready.setdefault(job_id, job)


class _Registry:
    def __init__(self, jobs: Jobs):
        self.jobs = jobs

    def get_job_ids(self):
        return list(self.jobs.scheduled)

    def get_scheduled_time(self, job_id):
        return datetime.fromtimestamp(self.jobs.scheduled[job_id][0], UTC)


class _Queue:
    def __init__(self, jobs: Jobs):
        self.jobs = jobs
        self.scheduled_job_registry = _Registry(jobs)

    def __len__(self):
        return len(self.jobs.ready)


def sim_queues_class(base):
    class SimQueues(base):
        """app.extensions.queues while a simulation runs: jobs go to `Jobs`, Redis stays for
        the breaker and rate limits."""

        sim_jobs: Jobs | None = None

        # One simulated queue: RQ_QUEUE_ROUTES (route) only says which RQ queue a job goes to.
        def enqueue(self, func, *args, retry=True, job_id=None, route=None):
            return self.sim_jobs.enqueue(func, *args, retry=retry, job_id=job_id)

        def enqueue_in(self, delay, func, *args, job_id=None, result_ttl=None, route=None):
            return self.sim_jobs.enqueue_in(delay, func, *args, job_id=job_id)

        def enqueue_many(self, func, calls, retry=True, route=None):
            for args, job_id in calls:  # one round trip at RQ; here each lands as enqueue's
                self.sim_jobs.enqueue(func, *args, retry=retry, job_id=job_id)

        @property
        def queue(self):
            return _Queue(self.sim_jobs)

    return SimQueues
