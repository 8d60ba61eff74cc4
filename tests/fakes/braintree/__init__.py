"""An in-repo fake of the Braintree gateway (XML API, the vault, a stand-in Drop-in and stand-in
Hosted Fields), for tests.

    fake = create_app(Gateway("merchant", "public", "private"))
    # serve it, then: braintree.Environment("fake", "127.0.0.1", str(port), url, False, None)

Tests drive the parts outside the platform through the Gateway object itself (open/close a
dispute, inject faults, read execution counters): the fake runs in the test process.
"""
from __future__ import annotations

from flask import Flask

from tests.fakes.braintree.dropin import MESSAGE_SOURCE, dropin
from tests.fakes.braintree.gateway import api
from tests.fakes.braintree.hosted_fields import hosted_fields
from tests.fakes.braintree.state import CARDS, FAULTS, KNOWN_NONCES, Gateway

__all__ = ["CARDS", "FAULTS", "KNOWN_NONCES", "MESSAGE_SOURCE", "Gateway", "create_app"]


def create_app(gateway: Gateway) -> Flask:
    """The fake gateway as a WSGI app."""
    app = Flask("fake_braintree")
    app.config["BRAINTREE_GATEWAY"] = gateway
    app.register_blueprint(api)
    app.register_blueprint(dropin)
    app.register_blueprint(hosted_fields)
    return app
