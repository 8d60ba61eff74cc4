"""Point a Holdfast app at a fresh fake Braintree for the length of a test."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from tests.fakes.braintree import Gateway, create_app
from tests.fakes.braintree.hosted_fields import SCRIPT_PATH

MERCHANT_ID, PUBLIC_KEY, PRIVATE_KEY = "holdfast_merchant", "holdfast_public", "holdfast_private"


def settings(url: str) -> dict:
    """The BRAINTREE_* settings that point the app at a fake served at `url`."""
    return {"BRAINTREE_MERCHANT_ID": MERCHANT_ID, "BRAINTREE_PUBLIC_KEY": PUBLIC_KEY,
            "BRAINTREE_PRIVATE_KEY": PRIVATE_KEY, "BRAINTREE_BASE_URL": url,
            "BRAINTREE_DROPIN_URL": f"{url}/dropin", "BRAINTREE_ENVIRONMENT": "sandbox",
            "BRAINTREE_HOSTED_FIELDS_URL": f"{url}{SCRIPT_PATH}"}


def forget(app) -> None:
    """Drop the app's cached Braintree adapter (and the memory that it was unconfigured)."""
    for name in ("holdfast_providers", "holdfast_unconfigured"):
        app.extensions.get(name, {}).pop("braintree", None)


@contextmanager
def braintree_on(app, serve) -> Iterator[tuple[Gateway, str]]:
    """Serve a fake with `serve` (app → base URL), configure the app for it, restore after."""
    gateway = Gateway(MERCHANT_ID, PUBLIC_KEY, PRIVATE_KEY, timeout_seconds=3.0)
    url = serve(create_app(gateway))
    wanted = settings(url)
    saved = {key: app.config.get(key) for key in wanted}
    app.config.update(wanted)
    forget(app)
    try:
        yield gateway, url
    finally:
        app.config.update(saved)
        forget(app)
