"""Fake Stripe and Braintree for browser journeys: each served on its own origin, configured in
the live platform and (through the environment) in the worker a module starts after it, with
every payment routed to it by a one-rule routing file."""
from __future__ import annotations

import io
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

from tests.conftest import served_apps
from tests.e2e.conftest import E2E_TMP
from tests.fakes import braintree as fake_braintree
from tests.fakes.braintree import wiring as braintree_wiring
from tests.fakes.stripe import FakeStripe
from tests.fakes.stripe import create_app as stripe_app
from tests.flows import route_all_to


class Recorder:
    """WSGI middleware keeping every request a fake receives (method, path, body): where the
    card went, and what the platform sent."""

    def __init__(self, wsgi):
        self.wsgi, self.requests, self.lock = wsgi, [], threading.Lock()

    def __call__(self, environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)  # the fake reads it again
        with self.lock:
            self.requests.append((environ["REQUEST_METHOD"], environ["PATH_INFO"],
                                  body.decode("utf-8", "replace")))
        return self.wsgi(environ, start_response)

    def to(self, path_pattern: str) -> list[tuple[str, str, str]]:
        """The recorded requests whose path matches."""
        with self.lock:
            return [r for r in self.requests if re.search(path_pattern, r[1])]


def routing_to(provider: str, rule: str) -> Path:
    """A routing file sending every payment to one provider, under rule `rule`."""
    return route_all_to(provider, E2E_TMP, rule)


@contextmanager
def settings_in_force(app, provider: str, settings: dict) -> Iterator[None]:
    """Apply settings to the platform and to the environment (the worker started next reads
    it); drop the cached adapter; restore everything after."""
    saved_env = {name: os.environ.get(name) for name in settings}
    saved_config = {name: app.config.get(name) for name in settings}
    os.environ.update(settings)
    app.config.update(settings)
    _forget(app, provider)
    try:
        yield
    finally:
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        app.config.update(saved_config)
        _forget(app, provider)


def _forget(app, provider: str) -> None:
    # The registry remembers adapters and unconfigured names; the next call rebuilds.
    for cache in ("holdfast_providers", "holdfast_unconfigured"):
        app.extensions.get(cache, {}).pop(provider, None)


@contextmanager
def served(wsgi) -> Iterator[str]:
    """Serve a WSGI app on a loopback port of its own for the block; its base URL."""
    with served_apps() as start:
        yield start(wsgi)


@contextmanager
def stripe_in_force(stack, routing: Path, **keys) -> Iterator[FakeStripe]:
    """A recorded fake Stripe (API, hosted page, stripe.js stand-in) delivering signed webhooks
    to the live platform; `keys`: api_key, webhook_secret and optionally publishable_key."""
    fake = FakeStripe(webhook_url=f"{stack['url']}/webhooks/stripe", **keys)
    fake.recorder = Recorder(stripe_app(fake))
    with served(fake.recorder) as url:
        fake.public_url = url
        settings = {"STRIPE_SECRET_KEY": keys["api_key"],
                    "STRIPE_WEBHOOK_SECRET": keys["webhook_secret"], "STRIPE_API_BASE": url,
                    "STRIPE_CHECKOUT_URL": url, "STRIPE_JS_URL": f"{url}/v3/",
                    "ROUTING_FILE": str(routing)}
        if keys.get("publishable_key"):
            settings["STRIPE_PUBLISHABLE_KEY"] = keys["publishable_key"]
        with settings_in_force(stack["app"], "stripe", settings):
            yield fake


@contextmanager
def braintree_in_force(stack, routing: Path) -> Iterator[SimpleNamespace]:
    """A recorded fake Braintree (API + Drop-in stand-in); ROUTING_FILE = routing."""
    gateway = fake_braintree.Gateway(braintree_wiring.MERCHANT_ID, braintree_wiring.PUBLIC_KEY,
                                     braintree_wiring.PRIVATE_KEY, timeout_seconds=3.0)
    recorder = Recorder(fake_braintree.create_app(gateway))
    with served(recorder) as url:
        settings = braintree_wiring.settings(url) | {"ROUTING_FILE": str(routing)}
        with settings_in_force(stack["app"], "braintree", settings):
            yield SimpleNamespace(gateway=gateway, url=url, recorder=recorder)
