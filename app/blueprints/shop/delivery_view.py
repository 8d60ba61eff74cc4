"""What the order page shows about getting the goods: where they ship, each line's shipment,
and each digital line's key, download link or credit (revealed to the buyer only)."""
from __future__ import annotations

from dataclasses import dataclass, field

from app.services.payments import capture_reports
from app.services.shop import addresses, digital, downloads, fulfilment


@dataclass
class DigitalLine:
    """A digital line as its buyer sees it."""

    delivery: object
    keys: list[str] = field(default_factory=list)
    download_token: str | None = None


def for_buyer(order) -> dict:
    """Template context for the buyer's order page."""
    lines = {}
    for line_id, delivery in digital.for_order(order.id).items():
        shown = DigitalLine(delivery)
        if delivery.status == "delivered":
            if delivery.kind == "licence_key":
                shown.keys = digital.reveal_keys(delivery)
            elif delivery.kind == "download":
                shown.download_token = downloads.download_token(delivery)
        lines[line_id] = shown
    return {"ship_address": addresses.for_order(order.id),
            "shipments": fulfilment.shipments_for(order.id), "digital_lines": lines,
            # Per-shipment capture: which lines are charged, still only authorized, cancelled.
            "line_captures": capture_reports.of_order(order.id),
            "link_minutes": downloads.link_ttl() // 60}
