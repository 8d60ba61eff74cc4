"""Adapter for Braintree on the official SDK: Drop-in nonce → sale, settle, void, refund,
disputes, and signed webhook notifications. Configured from BRAINTREE_* settings."""
from __future__ import annotations

from urllib.parse import urlsplit

import braintree

from app.providers.braintree.client import BraintreeProvider

__all__ = ["BraintreeProvider", "environment_for", "from_config"]

REQUIRED = ("BRAINTREE_MERCHANT_ID", "BRAINTREE_PUBLIC_KEY", "BRAINTREE_PRIVATE_KEY")


def environment_for(name: str, base_url: str | None = None) -> braintree.Environment:
    """Braintree's sandbox or production, or any base URL (tests point it at the fake)."""
    if base_url:
        parts = urlsplit(base_url)
        is_ssl = parts.scheme == "https"
        port = str(parts.port or (443 if is_ssl else 80))
        # The SDK speaks https only on port 443; `True` verifies against the system's CAs.
        return braintree.Environment("custom", parts.hostname, port, base_url, is_ssl, is_ssl)
    environments = {"sandbox": braintree.Environment.Sandbox,
                    "production": braintree.Environment.Production}
    if name not in environments:
        raise ValueError(f"BRAINTREE_ENVIRONMENT must be sandbox or production, not {name!r}")
    return environments[name]


def from_config(cfg) -> BraintreeProvider | None:
    """The adapter, or None when Braintree's credentials are not configured."""
    if not all(cfg.get(name) for name in REQUIRED):
        return None
    environment = environment_for(cfg.get("BRAINTREE_ENVIRONMENT") or "sandbox",
                                  cfg.get("BRAINTREE_BASE_URL") or None)
    gateway = braintree.BraintreeGateway(braintree.Configuration(
        environment=environment, merchant_id=cfg["BRAINTREE_MERCHANT_ID"],
        public_key=cfg["BRAINTREE_PUBLIC_KEY"], private_key=cfg["BRAINTREE_PRIVATE_KEY"],
        timeout=cfg.get("PSP_TIMEOUT_SECONDS", 10.0), wrap_http_exceptions=True))
    return BraintreeProvider(gateway, dispute_fee=int(cfg.get("BRAINTREE_DISPUTE_FEE", 1500)),
                             dropin_url=cfg.get("BRAINTREE_DROPIN_URL") or None,
                             hosted_fields_url=cfg.get("BRAINTREE_HOSTED_FIELDS_URL") or None)
