"""Which providers exist and which one a payment goes to."""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from app.providers.base import PaymentProvider
from app.providers.sandbox import SandboxProvider


@dataclass(frozen=True)
class Route:
    """The provider chosen for a payment, and why (stored on the payment)."""

    provider: str
    reason: str


def get_provider(name: str) -> PaymentProvider:
    """The configured adapter for a provider name (one instance per app)."""
    cache = current_app.extensions.setdefault("holdfast_providers", {})
    if name not in cache:
        if name != "sandbox":
            raise KeyError(f"no provider named {name!r} is configured")
        cfg = current_app.config
        secrets = [s for s in (cfg["SANDBOX_WEBHOOK_SECRET"],
                               cfg.get("SANDBOX_WEBHOOK_SECRET_PREVIOUS")) if s]
        cache[name] = SandboxProvider(cfg["SANDBOX_API_URL"], cfg["SANDBOX_API_KEY"], secrets,
                                      timeout=cfg["PSP_TIMEOUT_SECONDS"],
                                      webhook_tolerance=cfg["WEBHOOK_TOLERANCE_SECONDS"])
    return cache[name]


def choose_route(currency: str, mode: str) -> Route:
    """Pick the provider for a payment. Only the sandbox is configured so far."""
    return Route("sandbox", f"default route: sandbox accepts {currency} {mode} payments")
