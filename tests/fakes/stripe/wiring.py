"""Point a Holdfast app at a fresh fake Stripe for the length of a test."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.fakes.stripe import FakeStripe
from tests.fakes.stripe.server import running
from tests.flows import route_all_to


def forget(app) -> None:
    """Drop the app's cached Stripe adapter (and the memory that it was unconfigured)."""
    for cache in ("holdfast_providers", "holdfast_unconfigured"):
        app.extensions.get(cache, {}).pop("stripe", None)


@contextmanager
def stripe_on(app, api_key: str, webhook_secret: str | None = None,
              routing_dir: Path | None = None,
              publishable_key: str | None = None) -> Iterator[FakeStripe]:
    """Serve a fake Stripe (API, hosted page, stand-in stripe.js), configure the app for it and
    restore the settings after. With `routing_dir`, a one-rule routing file there sends every
    payment to Stripe too."""
    keys = {"api_key": api_key, "webhook_secret": webhook_secret,
            "publishable_key": publishable_key}
    fake = FakeStripe(**{name: value for name, value in keys.items() if value})
    with running(fake):
        settings = {"STRIPE_SECRET_KEY": api_key, "STRIPE_API_BASE": fake.public_url,
                    "STRIPE_JS_URL": f"{fake.public_url}/v3/"}
        if webhook_secret:
            settings["STRIPE_WEBHOOK_SECRET"] = webhook_secret
        if publishable_key:
            settings["STRIPE_PUBLISHABLE_KEY"] = publishable_key
        if routing_dir is not None:
            settings["ROUTING_FILE"] = str(route_all_to("stripe", routing_dir))
        saved = {name: app.config.get(name) for name in settings}
        app.config.update(settings)
        forget(app)
        try:
            yield fake
        finally:
            app.config.update(saved)
            forget(app)
