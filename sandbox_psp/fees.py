"""The sandbox's fee schedule, charged when a session is captured."""

# Hosted is dearer: the PSP serves the card page and carries its PCI scope.
SCHEDULES = {
    "hosted": {"percent_bps": 290, "fixed": 30},
    "embedded": {"percent_bps": 250, "fixed": 25},
}


def percent_half_up(amount: int, bps: int) -> int:
    """amount × bps / 10 000, rounded half up, in integer arithmetic."""
    return (amount * bps + 5_000) // 10_000


def fee_for(amount: int, currency: str, schedule: str) -> dict:
    """The contract's `fee` object for a captured amount under a schedule."""
    rates = SCHEDULES[schedule]
    total = percent_half_up(amount, rates["percent_bps"]) + rates["fixed"]
    return {"amount": total, "currency": currency, "schedule": schedule, **rates}
