"""Holdfast's sandbox PSP: a payment service provider simulator modelled on Stripe's test mode.

It is its own Flask app with its own database; the platform talks to it over HTTP only
(contract: docs/sandbox-psp.md).
"""
import datetime
import os

from flask import Flask

from .config import load_config
from .money import format_money
from .webhooks import deliver_due, start_deliverer

__all__ = ["create_app", "deliver_due", "start_deliverer"]


def create_app(config: dict | None = None) -> Flask:
    """Build the sandbox app; `config` overrides the environment (same names, e.g. SANDBOX_WEBHOOK_URL)."""
    app = Flask(__name__)
    app.config.update(load_config(config))
    os.makedirs(app.instance_path, exist_ok=True)
    register_extensions(app)
    register_blueprints(app)
    register_templates(app)
    register_headers(app)
    return app


def register_extensions(app: Flask) -> None:
    """Bind the sandbox's own database and create its tables."""
    from .models import configure_sqlite, db

    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            configure_sqlite(db.engine)
        db.create_all()


def register_blueprints(app: Flask) -> None:
    """The JSON API, the buyer's pages, the dashboard, and JSON error answers."""
    from . import api, dashboard, faults, fields, pages
    from .errors import register_error_handlers

    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(fields.bp)
    app.register_blueprint(dashboard.bp)
    faults.init_app(app)  # POST /v1/test_helpers/faults, when SANDBOX_TEST_HELPERS is on
    register_error_handlers(app)


def register_templates(app: Flask) -> None:
    """Template filters: money in minor units, Unix times."""
    app.add_template_filter(format_money, "money")
    app.add_template_filter(
        lambda t: datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
        "timestamp")


def register_headers(app: Flask) -> None:
    """Headers for every response; pages add their own CSP and framing rules."""

    @app.after_request
    def _headers(response):
        response.headers["X-Content-Type-Options"] = "nosniff"
        if "Content-Security-Policy" not in response.headers:
            response.headers["Content-Security-Policy"] = "default-src 'none'; frame-ancestors 'none'"
        return response
