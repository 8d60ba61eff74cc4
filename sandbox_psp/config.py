"""Settings of the sandbox PSP, read from the environment (see docs/sandbox-psp.md)."""
import os
import secrets

DEFAULTS = {
    # Relative SQLite paths resolve inside the Flask instance folder.
    "SANDBOX_DATABASE_URL": "sqlite:///sandbox_psp.db",
    "SANDBOX_API_KEYS": "sk_test_sandbox",
    # The card fields' keys, paired by position with SANDBOX_API_KEYS: a token made with the
    # first publishable key is spent with the first secret key. Public by design.
    "SANDBOX_PUBLISHABLE_KEYS": "pk_test_sandbox",
    # Seconds a card token made by the card fields may wait to be spent.
    "SANDBOX_TOKEN_TTL": "900",
    "SANDBOX_WEBHOOK_URL": "",
    "SANDBOX_WEBHOOK_SECRET": "whsec_sandbox",
    "SANDBOX_PLATFORM_ORIGIN": "http://127.0.0.1:5000",
    "SANDBOX_WEBHOOK_RETRY_BASE": "2",
    "SANDBOX_WEBHOOK_MAX_ATTEMPTS": "8",
    "SANDBOX_SESSION_TTL": "1800",
    # Base of the `url`/`embed_url` fields; empty: the URL the API was called on.
    "SANDBOX_PUBLIC_URL": "",
    # Key of the card fingerprint HMAC; empty: a random key per process, so
    # fingerprints are stable only while the process runs.
    "SANDBOX_FINGERPRINT_KEY": "",
    "SANDBOX_WEBHOOK_TIMEOUT": "5",
    # Seconds between a payout's creation and its settlement (paid or failed).
    "SANDBOX_PAYOUT_DELAY": "2",
    # Fault injection (POST /v1/test_helpers/faults); "0" turns it off.
    "SANDBOX_TEST_HELPERS": "1",
}

def _keys(value) -> list[str]:
    """A comma-separated list of keys (or a list already)."""
    if not isinstance(value, str):
        return list(value)
    return [k.strip() for k in value.split(",") if k.strip()]


_PARSERS = {
    "SANDBOX_API_KEYS": lambda v: [k.strip() for k in v.split(",") if k.strip()] if isinstance(v, str) else list(v),
    "SANDBOX_PUBLISHABLE_KEYS": _keys,
    "SANDBOX_TOKEN_TTL": int,
    "SANDBOX_WEBHOOK_RETRY_BASE": float,
    "SANDBOX_WEBHOOK_MAX_ATTEMPTS": int,
    "SANDBOX_SESSION_TTL": int,
    "SANDBOX_WEBHOOK_TIMEOUT": float,
    "SANDBOX_PAYOUT_DELAY": float,
    "SANDBOX_PLATFORM_ORIGIN": lambda v: v.rstrip("/"),
    "SANDBOX_PUBLIC_URL": lambda v: v.rstrip("/"),
    "SANDBOX_TEST_HELPERS": lambda v: str(v).strip().lower() not in ("0", "false", "no", "off", ""),
}


def load_config(overrides: dict | None = None) -> dict:
    """Merge defaults, the environment and explicit overrides into typed settings."""
    raw = {name: os.environ.get(name, default) for name, default in DEFAULTS.items()}
    extra = dict(overrides or {})
    raw.update({k: v for k, v in extra.items() if k in DEFAULTS})
    settings = {name: _PARSERS.get(name, str)(value) for name, value in raw.items()}
    if not settings["SANDBOX_API_KEYS"]:
        raise ValueError("SANDBOX_API_KEYS must name at least one key")
    if not settings["SANDBOX_FINGERPRINT_KEY"]:
        settings["SANDBOX_FINGERPRINT_KEY"] = secrets.token_hex(32)
    settings["SQLALCHEMY_DATABASE_URI"] = settings["SANDBOX_DATABASE_URL"]
    # Anything else (TESTING, ...) passes straight through to Flask.
    settings.update({k: v for k, v in extra.items() if k not in DEFAULTS})
    return settings
