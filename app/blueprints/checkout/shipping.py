"""Where a physical order ships: the choice offered on the checkout page."""
from __future__ import annotations

from dataclasses import dataclass, field

from app.services.shop import addresses


@dataclass
class ShipTo:
    """What the checkout page shows: whether the order ships, the saved addresses, the one
    preselected (already chosen, else the newest)."""

    needed: bool
    saved: list = field(default_factory=list)
    selected: int | None = None


def ship_to_choice(order) -> ShipTo:
    """The ship-to choice for an order on the checkout page."""
    if not addresses.ships(order):
        return ShipTo(False)
    saved = addresses.saved(order.buyer_id)
    chosen = addresses.for_order(order.id)
    selected = chosen.address_id if chosen else (saved[0].id if saved else None)
    return ShipTo(True, saved, selected)
