"""Which providers exist, which ones a payment goes to, and the guard around every adapter."""
from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass

from flask import current_app

from app.domain.routing import RouteContext, RoutingError
from app.providers import routing_file
from app.providers.base import PaymentProvider
from app.providers.sandbox import SandboxProvider

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Route:
    """The providers chosen for a payment in trial order, the rule, and why (stored on it)."""

    providers: tuple[str, ...]
    rule: str
    reason: str
    modes: tuple[str, ...] = ("hosted", "embedded", "fields")  # what the rule allows

    @property
    def provider(self) -> str:
        """The provider tried first."""
        return self.providers[0]


# Provider name → "module:function" building its adapter from the app config. A factory
# returns None when the provider is not configured (no credentials in the environment).
FACTORIES = {
    "sandbox": "app.providers.registry:_sandbox_from_config",
    "sandbox_us": "app.providers.registry:_sandbox_us_from_config",
    "stripe": "app.providers.stripe:from_config",
    "braintree": "app.providers.braintree:from_config",
}
_MISSING = object()


def get_provider(name: str) -> PaymentProvider:
    """The configured adapter for a provider name, wrapped in timeouts, retries, a rate limit
    and a circuit breaker (one instance per app); KeyError when it is not configured."""
    cache = current_app.extensions.setdefault("holdfast_providers", {})
    if name not in cache:
        adapter = _build(name)
        if adapter is None:
            raise KeyError(f"no provider named {name!r} is configured")
        from app.providers.resilience import guard

        cache[name] = guard(adapter, name, current_app.config)
    return cache[name]


def _build(name: str) -> PaymentProvider | None:
    # Unconfigured providers are remembered too: routing asks about them on every payment.
    built = current_app.extensions.setdefault("holdfast_unconfigured", {})
    if built.get(name) is _MISSING:
        return None
    factory = FACTORIES.get(name)
    adapter = None
    if factory:
        module, _, function = factory.partition(":")
        try:
            adapter = getattr(importlib.import_module(module), function)(current_app.config)
        except ModuleNotFoundError as exc:  # an adapter package not installed/written yet
            if not exc.name or not module.startswith(exc.name):
                raise
    if adapter is None:
        built[name] = _MISSING
    return adapter


def configured() -> frozenset[str]:
    """Names of the providers this deployment can use."""
    names = set()
    for name in FACTORIES:
        try:
            get_provider(name)
        except KeyError:
            continue
        names.add(name)
    return frozenset(names)


def _sandbox_from_config(cfg) -> PaymentProvider | None:
    """The sandbox PSP, unless this deployment leaves it out (production without
    SANDBOX_API_URL): then nothing is routed, paid out or received through it."""
    if not cfg.get("SANDBOX_ENABLED", True):
        return None
    secrets = [s for s in (cfg["SANDBOX_WEBHOOK_SECRET"],
                           cfg.get("SANDBOX_WEBHOOK_SECRET_PREVIOUS")) if s]
    return SandboxProvider(cfg["SANDBOX_API_URL"], cfg["SANDBOX_API_KEY"], secrets,
                           timeout=cfg["PSP_TIMEOUT_SECONDS"],
                           webhook_tolerance=cfg["WEBHOOK_TOLERANCE_SECONDS"],
                           public_url=cfg.get("SANDBOX_PUBLIC_URL"),
                           publishable_key=cfg.get("SANDBOX_PUBLISHABLE_KEY", ""))


def _sandbox_us_from_config(cfg) -> PaymentProvider | None:
    """A second sandbox instance (the "US acquirer"), when SANDBOX_US_API_URL is set."""
    if not cfg.get("SANDBOX_US_API_URL") or not cfg.get("SANDBOX_ENABLED", True):
        return None
    adapter = SandboxProvider(cfg["SANDBOX_US_API_URL"],
                              cfg.get("SANDBOX_US_API_KEY") or cfg["SANDBOX_API_KEY"],
                              [cfg.get("SANDBOX_US_WEBHOOK_SECRET")
                               or cfg.get("SANDBOX_WEBHOOK_SECRET")],
                              timeout=cfg["PSP_TIMEOUT_SECONDS"],
                              webhook_tolerance=cfg["WEBHOOK_TOLERANCE_SECONDS"],
                              public_url=cfg.get("SANDBOX_US_PUBLIC_URL"),
                              publishable_key=cfg.get("SANDBOX_US_PUBLISHABLE_KEY")
                              or cfg.get("SANDBOX_PUBLISHABLE_KEY", ""))
    adapter.name = "sandbox_us"
    return adapter


def choose_route(context: RouteContext) -> Route:
    """The providers for a payment, in trial order, by the routing file's first matching rule
    (providers that are not configured here are left out)."""
    decision = routing_file.current().decide(context, configured())
    return Route(decision.providers, decision.rule, decision.reason, decision.modes)


def reachable(currency: str, amount: int, countries, method: str = "card") -> frozenset[str]:
    """Every provider a payment of this currency and amount may end up with, whichever of
    `countries` (None: not given) the buyer picks: the matching rule's whole list, since a
    weighted draw may put any of them first and fail-over may move on to the next. The pay
    page's form may be sent to any of them, before the payment is routed."""
    table, available = routing_file.current(), configured()
    names: set[str] = set()
    for country in countries:
        try:
            names.update(table.decide(RouteContext(currency, amount, method, country), available)
                         .providers)
        except RoutingError:  # nothing takes it: the form will say so, no PSP page to allow
            continue
    return frozenset(names)


def breaker_states() -> dict[str, dict]:
    """Each configured provider's circuit-breaker state (shared by every process)."""
    states = {}
    for name in sorted(configured()):
        breaker = getattr(get_provider(name), "breaker", None)
        states[name] = breaker.state() if breaker is not None else {"state": "none"}
    return states


def card_fields_scripts() -> list[str]:
    """The card fields script URL of every configured provider that has card fields."""
    urls = []
    for name in sorted(configured()):
        fields = get_provider(name).card_fields()
        if fields is not None:
            urls.append(fields.script_url)
    return sorted(set(urls))


def fetch_script(url: str) -> bytes:
    """A PSP script's bytes as a browser would get them (for the change check); OSError when
    it cannot be fetched."""
    import requests

    try:
        response = requests.get(url, timeout=10, allow_redirects=False)
        response.raise_for_status()
    except requests.RequestException as exc:
        raise OSError(str(exc)) from None
    return response.content
