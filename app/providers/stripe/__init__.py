"""Adapter for Stripe through the official `stripe` SDK (docs/providers.md)."""
from __future__ import annotations

from app.providers.stripe.client import StripeProvider


def from_config(cfg) -> StripeProvider | None:
    """The Stripe adapter, or None when STRIPE_SECRET_KEY is not set (Stripe not in use)."""
    if not cfg.get("STRIPE_SECRET_KEY"):
        return None
    secrets = [s.strip() for s in (cfg.get("STRIPE_WEBHOOK_SECRET") or "").split(",")
               if s.strip()]
    return StripeProvider(cfg["STRIPE_SECRET_KEY"], secrets,
                          api_base=cfg.get("STRIPE_API_BASE") or None,
                          timeout=cfg["PSP_TIMEOUT_SECONDS"],
                          webhook_tolerance=cfg["WEBHOOK_TOLERANCE_SECONDS"],
                          checkout_url=cfg.get("STRIPE_CHECKOUT_URL") or None,
                          js_url=cfg.get("STRIPE_JS_URL") or None,
                          publishable_key=cfg.get("STRIPE_PUBLISHABLE_KEY") or "")


__all__ = ["StripeProvider", "from_config"]
