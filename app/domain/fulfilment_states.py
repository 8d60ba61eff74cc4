"""How a line reaches the buyer: a shipment (physical) or a digital delivery.

A shipment is SHIPPED when the seller hands it to a carrier and DELIVERED when the seller (or
the carrier's word) says it arrived. A digital delivery is DELIVERED at capture, or WAITING
when its licence-key pool ran dry after the order was paid (a person must add keys); a refund
or a lost chargeback REVOKES it: the key is marked revoked, the link dies, credit is taken back.
"""
from __future__ import annotations

from enum import Enum

from app.domain.transitions import check

# The carriers a seller picks from; "Other" for one not listed (or delivery by hand).
CARRIERS = ("DHL", "DPD", "GLS", "Royal Mail", "UPS", "USPS", "FedEx", "La Poste", "PostNL",
            "Other")


class ShipmentStatus(str, Enum):
    """Where a physical line is."""

    SHIPPED = "shipped"
    DELIVERED = "delivered"

    def __str__(self) -> str:
        return self.value


class DeliveryStatus(str, Enum):
    """Where a digital line is."""

    WAITING = "waiting"        # paid, but no licence key was left in the pool
    DELIVERED = "delivered"
    REVOKED = "revoked"        # refunded or charged back: what was delivered no longer stands

    def __str__(self) -> str:
        return self.value


SHIPMENT_TRANSITIONS: dict[ShipmentStatus, frozenset[ShipmentStatus]] = {
    ShipmentStatus.SHIPPED: frozenset({ShipmentStatus.DELIVERED}),
    ShipmentStatus.DELIVERED: frozenset(),
}
D = DeliveryStatus
DELIVERY_TRANSITIONS: dict[DeliveryStatus, frozenset[DeliveryStatus]] = {
    D.WAITING: frozenset({D.DELIVERED, D.REVOKED}),
    D.DELIVERED: frozenset({D.REVOKED}),
    D.REVOKED: frozenset(),
}


def ship_transition(current: ShipmentStatus, target: ShipmentStatus) -> ShipmentStatus:
    """Return target if allowed, else raise ForbiddenMove naming both statuses."""
    return check("shipment", SHIPMENT_TRANSITIONS, current, target)


def delivery_transition(current: DeliveryStatus, target: DeliveryStatus) -> DeliveryStatus:
    """Return target if allowed, else raise ForbiddenMove naming both statuses."""
    return check("digital delivery", DELIVERY_TRANSITIONS, current, target)
