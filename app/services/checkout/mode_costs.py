"""What each way to pay costs the platform for an order, as the checkout page shows it: the
modes the routing rule allows for the order (a mode it leaves out, or one the routed PSP does
not have — Braintree's hosted page, card fields where the PSP has none — is not offered at
all), the provider fee each would cost by the routing file's [fees] tables, and the saving
against the dearest. Read-only."""
from __future__ import annotations

from dataclasses import dataclass

from app.domain.money import Money
from app.domain.route_costs import cheapest_first
from app.domain.routing import RouteContext, RoutingError
from app.providers import routing_file
from app.providers.registry import choose_route, get_provider
from app.services.checkout import provider_choice


@dataclass(frozen=True)
class ModeOffer:
    """One way to pay this order: the provider routing would use, its fee and the saving
    against the dearest offered mode (None when a fee is not on file)."""

    mode: str
    provider: str
    fee: Money | None
    saving: Money | None = None
    saves_cards: bool = False  # whether "Save my card" really saves it on this route


def offers(currency: str, amount: int, country: str | None = None) -> dict[str, ModeOffer]:
    """The offered modes by name, in the rule's preference order; {} when nothing routes."""
    try:
        route = choose_route(RouteContext(currency, amount, "card", country))
    except RoutingError:
        return {}
    fees = routing_file.current().fees
    found = []
    for mode in route.modes:
        providers = [p for p in route.providers if provider_choice.supports(p, mode)]
        if not providers:
            continue
        provider = cheapest_first(providers, mode, amount, fees)[0]
        rate = fees.get((provider, mode))
        found.append(ModeOffer(mode, provider,
                               Money(rate.cost(amount), currency) if rate else None,
                               saves_cards=all(get_provider(p).saves_cards() for p in providers)))
    priced = [o.fee.amount for o in found if o.fee is not None]
    dearest = max(priced, default=0)
    return {o.mode: ModeOffer(o.mode, o.provider, o.fee,
                              Money(dearest - o.fee.amount, currency) if o.fee else None,
                              o.saves_cards)
            for o in found}


def can_save_cards(offered: dict[str, ModeOffer]) -> bool:
    """Whether to offer "Save my card": only when every offered mode's route really saves it
    (the box is one for the whole form)."""
    return bool(offered) and all(o.saves_cards for o in offered.values())
