"""An application context for jobs, whichever way the worker was started."""
from __future__ import annotations

from contextlib import contextmanager

from flask import Flask, current_app, has_app_context

from app import pause_points

_app: Flask | None = None
_depth = 0  # jobs call jobs' helpers: only the outermost context marks a job's start and end


@contextmanager
def app_context():
    """Reuse the current app (flask worker, tests); else build one per worker process."""
    global _app, _depth
    job = _current_job_name() if _depth == 0 else None
    _depth += 1
    try:
        if job:
            pause_points.reached(f"job:{job}:start")
        if has_app_context():
            yield current_app
        else:
            if _app is None:
                from app import create_app

                _app = create_app()
            with _app.app_context():
                yield _app
        if job:
            pause_points.reached(f"job:{job}:end")
    finally:
        _depth -= 1


def _current_job_name() -> str | None:
    from rq import get_current_job

    job = get_current_job()
    return job.func_name if job is not None else None
