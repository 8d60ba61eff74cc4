"""Point a Holdfast app at a fresh fake Stripe for the length of a test."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.fakes.stripe import FakeStripe
from tests.fakes.stripe.server import running

ROUTE_ALL_TO_STRIPE = """version = 1

[[rule]]
name = "all-stripe"
description = "Every payment goes to Stripe in these tests."
providers = ["stripe"]
"""


def forget(app) -> None:
    """Drop the app's cached Stripe adapter (and the memory that it was unconfigured)."""
    for cache in ("holdfast_providers", "holdfast_unconfigured"):
        app.extensions.get(cache, {}).pop("stripe", None)


@contextmanager
def stripe_on(app, api_key: str, webhook_secret: str | None = None,
              routing_dir: Path | None = None) -> Iterator[FakeStripe]:
    """Serve a fake Stripe, configure the app for it and restore the settings after. With
    `routing_dir`, a one-rule routing file there sends every payment to Stripe too."""
    settings = {"STRIPE_SECRET_KEY": api_key}
    if webhook_secret:
        settings["STRIPE_WEBHOOK_SECRET"] = webhook_secret
    if routing_dir is not None:
        routing = routing_dir / "routing-stripe.toml"
        routing.write_text(ROUTE_ALL_TO_STRIPE)
        settings["ROUTING_FILE"] = str(routing)
    fake = FakeStripe(api_key=api_key, **({"webhook_secret": webhook_secret}
                                           if webhook_secret else {}))
    with running(fake):
        settings["STRIPE_API_BASE"] = fake.public_url
        saved = {name: app.config.get(name) for name in settings}
        app.config.update(settings)
        forget(app)
        try:
            yield fake
        finally:
            app.config.update(saved)
            forget(app)
