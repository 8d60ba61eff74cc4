"""Which providers exist and which one a payment goes to."""
from __future__ import annotations

import importlib
from dataclasses import dataclass

from flask import current_app

from app.providers.base import PaymentProvider
from app.providers.sandbox import SandboxProvider


@dataclass(frozen=True)
class Route:
    """The provider chosen for a payment, and why (stored on the payment)."""

    provider: str
    reason: str


# Provider name → "module:function" building its adapter from the app config. A factory
# returns None when the provider is not configured (no credentials in the environment).
FACTORIES = {
    "sandbox": "app.providers.registry:_sandbox_from_config",
    "stripe": "app.providers.stripe:from_config",
    "braintree": "app.providers.braintree:from_config",
}


def get_provider(name: str) -> PaymentProvider:
    """The configured adapter for a provider name (one instance per app)."""
    cache = current_app.extensions.setdefault("holdfast_providers", {})
    if name not in cache:
        factory = FACTORIES.get(name)
        adapter = None
        if factory:
            module, _, function = factory.partition(":")
            adapter = getattr(importlib.import_module(module), function)(current_app.config)
        if adapter is None:
            raise KeyError(f"no provider named {name!r} is configured")
        cache[name] = adapter
    return cache[name]


def _sandbox_from_config(cfg) -> PaymentProvider:
    secrets = [s for s in (cfg["SANDBOX_WEBHOOK_SECRET"],
                           cfg.get("SANDBOX_WEBHOOK_SECRET_PREVIOUS")) if s]
    return SandboxProvider(cfg["SANDBOX_API_URL"], cfg["SANDBOX_API_KEY"], secrets,
                           timeout=cfg["PSP_TIMEOUT_SECONDS"],
                           webhook_tolerance=cfg["WEBHOOK_TOLERANCE_SECONDS"])


def choose_route(currency: str, mode: str) -> Route:
    """Pick the provider for a payment. Only the sandbox is configured so far."""
    return Route("sandbox", f"default route: sandbox accepts {currency} {mode} payments")
