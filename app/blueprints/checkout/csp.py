"""Which PSP origins a checkout page lets through its CSP: those of the provider its payment was
routed to, as that provider declares them (PaymentProvider.browser_origins)."""
from __future__ import annotations

from flask import current_app

from app.blueprints.checkout.forms import BILLING_COUNTRIES
from app.providers.registry import get_provider, reachable
from app.security_headers import allow_psp


def allow_provider(name: str, *, navigate: bool = False, embed: bool = False) -> None:
    """Allow one provider's origins on this response; nothing when it is not configured here
    (its page could not be reached anyway, and the CSP stays strict)."""
    try:
        origins = get_provider(name).browser_origins()
    except KeyError:
        current_app.logger.warning("payment routed to %s, which is not configured", name)
        return
    allow_psp(origins, navigate=navigate, embed=embed)


def allow_pay_form(order) -> None:
    """The pay page's form is answered with a 303 to the hosted page (or 3-D Secure page) of
    whichever provider the payment is routed to when it is posted; that depends on the billing
    country the buyer picks there, so allow each provider the routing file can choose for this
    order, plus the one holding a session the form would resume."""
    countries = [choice.value or None for choice in BILLING_COUNTRIES]
    names = set(reachable(order.currency, order.total_amount, countries))
    if order.current_payment is not None:
        names.add(order.current_payment.provider)
    for name in sorted(names):
        allow_provider(name, navigate=True)
