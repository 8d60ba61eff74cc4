"""The sandbox's fee schedule, charged when a session is captured.

Dearest first: the PSP's own hosted page carries the card form and its PCI scope; its page in
an iframe on the platform costs a little less; card fields on the platform's own page ("fields",
tokenized by the PSP's script, SAQ A-EP for the platform) cost less again; a platform sending
raw card numbers to the API ("direct", SAQ D) would pay least. The sandbox has no direct mode —
it refuses card numbers over the API — but prices it, as PSPs publish it.
"""

SCHEDULES = {
    "hosted": {"percent_bps": 290, "fixed": 30},
    "embedded": {"percent_bps": 250, "fixed": 25},
    "fields": {"percent_bps": 140, "fixed": 20},
    "direct": {"percent_bps": 120, "fixed": 15},
}


def percent_half_up(amount: int, bps: int) -> int:
    """amount × bps / 10 000, rounded half up, in integer arithmetic."""
    return (amount * bps + 5_000) // 10_000


def fee_for(amount: int, currency: str, schedule: str) -> dict:
    """The contract's `fee` object for a captured amount under a schedule."""
    rates = SCHEDULES[schedule]
    total = percent_half_up(amount, rates["percent_bps"]) + rates["fixed"]
    return {"amount": total, "currency": currency, "schedule": schedule, **rates}


def schedule() -> dict:
    """The contract's `fee_schedule` object: each mode's rate, dearest first."""
    return {"object": "fee_schedule",
            "data": [{"mode": mode, **rates} for mode, rates in SCHEDULES.items()]}
