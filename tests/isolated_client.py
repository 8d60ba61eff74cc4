"""A test client whose every request runs in its own app context, as in production.

The suite's `app` fixture keeps one app context pushed for the whole test, and Flask reuses a
pushed context for requests, so `g` would carry Flask-Login's cached user and the CSP nonce from
one request (or one client) into the next. That would hide exactly the bugs these tests look for.
"""
from __future__ import annotations

from flask.testing import FlaskClient

from app.extensions import db


class IsolatedClient(FlaskClient):
    """FlaskClient that pushes a fresh app context (fresh `g`, fresh db session) per request."""

    def open(self, *args, **kwargs):
        # End the test's own read transaction on both sides of the request, so that what the test
        # reads next is what the request committed (not an older SQLite snapshot). Tests commit
        # their own setup changes before making requests.
        db.session.rollback()
        # Read the whole answer and close it, as a WSGI server does: a file download (send_file,
        # static files) otherwise keeps its file open until the garbage collector finds it.
        kwargs.setdefault("buffered", True)
        try:
            with self.application.app_context():
                return super().open(*args, **kwargs)
        finally:
            db.session.rollback()
