"""What `make run` runs, for the browser journeys: both sandbox instances and the shipped routing
file around the suite's live platform (the worker is conftest's `live_worker`).

`tests/conftest.py::stack` serves the platform and the EU sandbox ("sandbox") in-process for the
whole suite. Here a second instance ("sandbox_us", the US acquirer) joins it for the browser
tests only, wired as app/launcher.py wires it: its own database, public URL and webhook endpoint
(/webhooks/sandbox_us), the same API key and webhook secret. The routing file is the shipped
default, copied on first use into a fresh instance folder exactly as under `make run`. The
settings reach the platform (its config) and the worker started after them (the environment),
and are restored afterwards, so the tests outside tests/e2e keep their one-sandbox stack.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.conftest import API_KEY, DeferredApp, serve

# Settings the US instance shares with the suite's EU one (app/launcher.py: child_environment).
SHARED = ("TESTING", "SANDBOX_API_KEYS", "SANDBOX_WEBHOOK_SECRET", "SANDBOX_PLATFORM_ORIGIN",
          "SANDBOX_WEBHOOK_RETRY_BASE", "SANDBOX_FINGERPRINT_KEY")


@dataclass(frozen=True)
class Instance:
    """One sandbox PSP instance: its provider name, in-process app and base URL."""

    name: str
    app: object
    url: str

    def api(self, method: str, path: str) -> requests.Response:
        """Call its HTTP API with the platform's key, as the platform does."""
        return requests.request(method, self.url + path, timeout=10,
                                headers={"Authorization": f"Bearer {API_KEY}"})

    def session(self, reference: str) -> dict | None:
        """Its record of a payment session; None when this instance never had it."""
        answer = self.api("GET", f"/v1/payment_sessions/{reference}")
        if answer.status_code == 404:
            return None
        answer.raise_for_status()
        return answer.json()

    def executions(self) -> dict[str, int]:
        """How often each idempotency key of our API key started executing here."""
        answer = self.api("GET", "/v1/_stats")
        answer.raise_for_status()
        return answer.json()["executions"]


@contextmanager
def like_make_run(stack: dict, folder: Path) -> Iterator[dict[str, Instance]]:
    """Start the US sandbox, configure it and the shipped routing file; instances by name."""
    import sandbox_psp
    from app.providers import routing_file
    from tests.e2e.psp_fakes import settings_in_force

    wsgi = DeferredApp()
    server, url = serve(wsgi)
    eu_config = stack["psp"].config
    wsgi.app = sandbox_psp.create_app({name: eu_config[name] for name in SHARED} | {
        "SANDBOX_DATABASE_URL": f"sqlite:///{folder / 'sandbox_psp_us.db'}",
        "SANDBOX_WEBHOOK_URL": f"{stack['url']}/webhooks/sandbox_us",
        "SANDBOX_PUBLIC_URL": url,
    })
    # Not INBOX_HANDOFF=batched (make run's): these settings outlive tests/e2e (its "package"
    # fixtures last the session when tests/faults and tests/jobs follow), and the suite after
    # it queues a webhook's job inline so that settle() finds it.
    settings = {"SANDBOX_US_API_URL": url, "SANDBOX_US_PUBLIC_URL": url,
                "ROUTING_FILE": str(folder / "routing.toml")}
    try:
        with settings_in_force(stack["app"], "sandbox_us", settings):
            with stack["app"].app_context():
                shipped = routing_file.path()  # copied from the default on first use
            assert shipped.read_text() == routing_file.DEFAULT_FILE.read_text()
            yield {"sandbox": Instance("sandbox", stack["psp"], stack["psp_url"]),
                   "sandbox_us": Instance("sandbox_us", wsgi.app, url)}
    finally:
        server.shutdown()
        server.server_close()
