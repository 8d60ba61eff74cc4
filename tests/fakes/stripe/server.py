"""Run the fake Stripe on a loopback port for a test (werkzeug in a daemon thread)."""
from __future__ import annotations

import threading
from contextlib import contextmanager

from werkzeug.serving import WSGIRequestHandler, make_server

from tests.fakes.stripe.app import create_app
from tests.fakes.stripe.state import FakeStripe


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):  # one line per SDK call would drown test output
        pass


@contextmanager
def running(fake: FakeStripe | None = None):
    """Serve a fake (a fresh one by default); yields it with public_url set to its address."""
    fake = fake or FakeStripe()
    server = make_server("127.0.0.1", 0, create_app(fake), threaded=True,
                         request_handler=_QuietHandler)
    fake.public_url = f"http://127.0.0.1:{server.port}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
