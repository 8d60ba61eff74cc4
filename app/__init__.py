"""Holdfast: the application factory."""
from __future__ import annotations

from pathlib import Path

from flask import Flask, redirect, url_for

from config import load_config


def create_app(config: dict | str | None = None) -> Flask:
    """Build the platform app; config is a settings dict, an environment name, or None (env)."""
    settings = config if isinstance(config, dict) else load_config(config)
    app = Flask(__name__, instance_path=str(_instance_path()),
                template_folder="../templates", static_folder="../static")
    app.config.update(settings)
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_security_headers(app)
    register_template_helpers(app)
    register_commands(app)
    register_logging(app)
    register_proxy(app)
    return app


def _instance_path() -> Path:
    from config import instance_dir

    path = instance_dir()
    path.mkdir(parents=True, exist_ok=True)
    return path


def register_proxy(app: Flask) -> None:
    """Behind TRUSTED_PROXIES reverse proxies, see the client's address and scheme.

    Werkzeug's ProxyFix takes the n-th X-Forwarded-* value from the right, the one our own
    outermost proxy appended; anything a client wrote further left is ignored. Without the
    setting no header is believed: remote_addr stays the TCP peer.
    """
    hops = app.config.get("TRUSTED_PROXIES") or 0
    if hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops,
                                x_port=hops)


def register_extensions(app: Flask) -> None:
    """Bind the unbound extensions and configure the database engine."""
    from app import models  # noqa: F401  (registers the tables)
    from app.auth_session import configure_login
    from app.database import configure_engine
    from app.extensions import csrf, db, htmx, migrate, queues

    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(app.root_path).parent / "migrations"),
                    render_as_batch=True)
    csrf.init_app(app)
    htmx.init_app(app)
    queues.init_app(app)
    configure_login(app)
    with app.app_context():
        configure_engine(db.engine)


def register_blueprints(app: Flask) -> None:
    """Mount every blueprint."""
    from app.blueprints.admin.routes import bp as admin_bp
    from app.blueprints.auth.routes import bp as auth_bp
    from app.blueprints.checkout.routes import bp as checkout_bp
    from app.blueprints.disputes.routes import bp as disputes_bp
    from app.blueprints.health.routes import bp as health_bp
    from app.blueprints.seller.routes import bp as seller_bp
    from app.blueprints.shop.routes import bp as shop_bp
    from app.blueprints.support.routes import bp as support_bp
    from app.blueprints.webhooks.routes import bp as webhooks_bp
    from app.extensions import csrf

    for bp in (auth_bp, shop_bp, checkout_bp, seller_bp, support_bp, health_bp, disputes_bp):
        app.register_blueprint(bp)
    app.register_blueprint(admin_bp)
    if app.config.get("DEMO_ACCOUNTS_ALLOWED"):
        from app.blueprints.dev.routes import bp as dev_bp

        app.register_blueprint(dev_bp)
    # PSPs authenticate with signatures, not CSRF tokens.
    csrf.exempt(webhooks_bp)
    app.register_blueprint(webhooks_bp)
    # Pages link the SVG icon, but bookmarks, feed readers and some browsers still ask for
    # /favicon.ico directly; a 404 there fills logs and the browser tests' request watcher.
    app.add_url_rule("/favicon.ico", "favicon", lambda: redirect(
        url_for("static", filename="favicon.svg"), 301))


def register_errorhandlers(app: Flask) -> None:
    """Readable pages for people, JSON for machines, and never a stack trace."""
    from app.errors import register

    register(app)


def register_security_headers(app: Flask) -> None:
    """CSP with per-request nonces, nosniff, Referrer-Policy on every response."""
    from app.security_headers import register

    register(app)


def register_template_helpers(app: Flask) -> None:
    """Jinja filters: money is formatted in exactly one place."""
    from app.templating import register

    register(app)


def register_logging(app: Flask) -> None:
    """Every log record on one line, whatever text it carries (log injection)."""
    from app.log_lines import install

    install(app.logger)


def register_commands(app: Flask) -> None:
    """flask seed-demo, audit verify, worker, dev …"""
    from app.cli import register

    register(app)
