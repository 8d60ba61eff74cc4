"""An application context for jobs, whichever way the worker was started."""
from __future__ import annotations

from contextlib import contextmanager

from flask import Flask, current_app, has_app_context

_app: Flask | None = None


@contextmanager
def app_context():
    """Reuse the current app (flask worker, tests); else build one per worker process."""
    global _app
    if has_app_context():
        yield current_app
        return
    if _app is None:
        from app import create_app

        _app = create_app()
    with _app.app_context():
        yield _app
