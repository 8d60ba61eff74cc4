"""Committed inbox rows handed to the queue in batches, off the PSP's request path.

A webhook is safe once its inbox row is committed: that row is the durable record, and the job
that processes it is only the fast way there (the inbox sweeper re-queues any row still
unprocessed after INBOX_STRANDED_SECONDS, so a row whose job was never queued waits, it is not
lost). Queueing each row inside the request cost about 70 % of a webhook request (RQ's enqueue
is two MULTI/EXEC round trips), so a burst of deliveries backed up behind Redis. Here the
request puts the row's id in a list and answers; one thread per process queues whatever has
gathered in a single pipeline: one round trip for a burst instead of two per event.

Processes fork (gunicorn, RQ's horses): a forked child starts with no thread and an empty
list (the parent queues what it had), and a fresh lock, since the parent's thread may have held
the old one at the fork.
"""
from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Callable

from redis.exceptions import RedisError

log = logging.getLogger(__name__)

# How long the thread lets a burst gather after its first id before queueing it: a webhook's
# job starts at most this much later, and a burst goes in a few round trips, not one each.
LINGER_SECONDS = 0.02


class Handoff:
    """Ids waiting to be queued, and the thread that queues them with `send(ids)` (called in
    the app's context, at most one batch at a time)."""

    def __init__(self, app, send: Callable[[list[int]], None]) -> None:
        self._app = app
        self._send = send
        self._fresh()
        os.register_at_fork(after_in_child=self._fresh)
        # A process that exits (gunicorn recycling a worker) sends what it holds first.
        atexit.register(self.flush, 2.0)

    def _fresh(self) -> None:
        self._lock = threading.Condition()
        self._pending: list[int] = []
        self._sending = False
        self._thread: threading.Thread | None = None
        self.batches = 0  # round trips made (tests and the benchmark read it)

    def put(self, inbox_id: int) -> None:
        """Queue this committed row's job soon; never raises for Redis (the sweeper backs it)."""
        with self._lock:
            self._pending.append(inbox_id)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="inbox-handoff",
                                                daemon=True)
                self._thread.start()
            self._lock.notify()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every id put so far has been sent (or failed to): for tests, the
        benchmark and a worker's shutdown. False when the timeout passed first."""
        with self._lock:
            return self._lock.wait_for(lambda: not self._pending and not self._sending, timeout)

    def _run(self) -> None:
        while True:
            with self._lock:
                self._lock.wait_for(lambda: self._pending)
            time.sleep(LINGER_SECONDS)  # outside the lock: requests keep adding ids meanwhile
            with self._lock:
                batch, self._pending = self._pending, []
                self.batches += 1
                self._sending = True
            try:
                with self._app.app_context():
                    self._send(batch)
            except RedisError as exc:
                log.warning("queue unavailable; %d inbox events wait for the sweeper: %s",
                            len(batch), exc)
            except Exception:  # noqa: BLE001 - the thread must outlive one bad batch
                log.exception("queueing %d inbox events failed; the sweeper will", len(batch))
            finally:
                with self._lock:
                    self._sending = False
                    self._lock.notify_all()
