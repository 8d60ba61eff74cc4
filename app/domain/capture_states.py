"""Per-shipment capture: each line of an authorized order waits for its seller to ship, is
then due, and is captured (its own partial capture at the PSP) — or voided, when its seller
never ships before the deadline or the authorization would lapse.

The deadline is the earlier of the platform's UNCAPTURED_VOID_DAYS and the PSP's
authorization lifetime less a day's margin: a void sent after the card network dropped the
authorization would find nothing to release, and a capture then fails.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from enum import Enum

from app.domain.transitions import check

# Capture policies: "at_checkout" captures the whole payment once it is authorized;
# "per_shipment" captures each line when it ships (digital lines at once).
AT_CHECKOUT = "at_checkout"
PER_SHIPMENT = "per_shipment"
POLICIES = (AT_CHECKOUT, PER_SHIPMENT)

# Void this long before the PSP's authorization would lapse.
LIFETIME_MARGIN = timedelta(days=1)


class LineCaptureStatus(str, Enum):
    """Where one order line's share of an authorization stands."""

    AWAITING_SHIPMENT = "awaiting_shipment"  # authorized; charged only when it ships
    DUE = "due"                              # shipped (or digital): the capture job takes it
    CAPTURED = "captured"                    # captured at the PSP, in escrow
    VOIDED = "voided"                        # released unpaid: the line is cancelled

    def __str__(self) -> str:
        return self.value


L = LineCaptureStatus
TRANSITIONS: dict[LineCaptureStatus, frozenset[LineCaptureStatus]] = {
    L.AWAITING_SHIPMENT: frozenset({L.DUE, L.VOIDED}),
    # A due line the PSP can no longer capture (authorization gone) is voided, never lost.
    L.DUE: frozenset({L.CAPTURED, L.VOIDED}),
    L.CAPTURED: frozenset(),
    L.VOIDED: frozenset(),
}

OPEN = frozenset({L.AWAITING_SHIPMENT, L.DUE})


def transition(current: LineCaptureStatus, target: LineCaptureStatus) -> LineCaptureStatus:
    """Return target if allowed, else raise ForbiddenMove naming both statuses."""
    return check("line capture", TRANSITIONS, current, target)


def void_deadline(authorized_at: datetime, void_days: int, lifetime_days: int) -> datetime:
    """When the uncaptured rest of an authorization is voided."""
    return authorized_at + min(timedelta(days=void_days),
                               timedelta(days=lifetime_days) - LIFETIME_MARGIN)


def uses_parts(policy: str, physical_lines: int) -> bool:
    """Whether an order is captured line by line: per-shipment policy and something to ship
    (an order of digital goods only is captured whole at once)."""
    if policy not in POLICIES:
        raise ValueError(f"unknown capture policy {policy!r}")
    return policy == PER_SHIPMENT and physical_lines > 0


def is_final(open_after: int) -> bool:
    """A capture is final (releases the rest) when no line is left open after it."""
    return open_after == 0
