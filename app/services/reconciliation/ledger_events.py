"""Which ledger event reports which PSP object: the vocabulary `sides` matches in.

A ledger transaction speaks about a PSP object through the row it posted for (a capture's
payment, a refund, a payout, a Connect transfer reversal, a treasury conversion) or through
its intent "<event>:<provider>:<psp reference>" (disputes, reconciliation's own corrections,
and treasury funding: services/money/payout_funding). Only the provider's PSP clearing legs
count, so a movement between two PSPs is two objects, one at each: the top-up at the rail
that received the money, the payout to the platform's bank at the PSP that collected it.
"""
from __future__ import annotations

# Ledger event -> the PSP line type that reports the same movement.
EVENT_TYPES = {
    "capture": "charge", "give_back_captured": "charge", "psp_fee_corrected": "charge",
    "refund": "refund", "refund_reversed": "refund_failure", "give_back_refunded": "refund",
    "payout_paid": "payout", "payout_returned": "payout_failure",
    "transfer_reversed": "transfer_reversal",
    "dispute_opened": "dispute", "dispute_won": "dispute_reversal",
    "psp_adjustment": "adjustment", "treasury_conversion": "conversion",
    # Treasury funding, by intent: the treasury's top-up of the rail (Stripe's `topup`
    # line), and the collecting PSP's payout to the platform's bank that repays it.
    "treasury_funding": "topup", "treasury_sweep": "payout",
}
BY_PAYMENT = ("capture", "give_back_captured", "give_back_refunded")
BY_REFUND = ("refund", "refund_reversed")
BY_PAYOUT = ("payout_paid", "payout_returned")
REVERSAL_INTENT = "transfer_reversed:"
CONVERSION_INTENT = "conversion:"  # services/money/treasury_fx: conversion:<id>:<currency>
# Events whose PSP object is the row they posted for: the caller names its reference
# (`ledger.post(psp_ref=…)`); every other event's reference is its intent's tail.
BY_ROW = BY_PAYMENT + BY_REFUND + BY_PAYOUT + ("transfer_reversed", "treasury_conversion")
# A give-back refund's object is the PSP's refund line of its payment, known only once that
# line is imported: never stored, worked out at match time (sides.ledger_objects).
RESOLVED_WHEN_MATCHED = ("give_back_refunded",)
PSP_COLUMNS = ("psp_provider", "psp_type", "psp_ref", "psp_net", "psp_fee")


def psp_object(event: str, intent: str, legs: list[dict], psp_ref: str | None = None) -> dict:
    """The PSP object a posting is about, stored on its ledger transaction so that matching
    reads our side as one indexed range (provider, created_at) with no joins: the provider
    whose clearing it moves, the line type that reports it, its reference, the clearing moved
    and the PSP fees booked. All None for a posting reconciliation does not match (no PSP
    clearing, an event no line reports, or two PSPs' clearing at once). A reference left None
    (not passed, or known only later) is worked out at match time from the rows, as before."""
    providers = {leg["owner"] for leg in legs if leg["kind"] == "psp_clearing"}
    type_ = EVENT_TYPES.get(event)
    if type_ is None or len(providers) != 1:
        return dict.fromkeys(PSP_COLUMNS)
    provider = providers.pop()
    if event in RESOLVED_WHEN_MATCHED:
        psp_ref = None
    elif event not in BY_ROW:
        psp_ref = intent[len(event) + len(provider) + 2:]  # "<event>:<provider>:<reference>"
    return {"psp_provider": provider, "psp_type": type_, "psp_ref": psp_ref,
            "psp_net": sum(leg["amount"] for leg in legs if leg["kind"] == "psp_clearing"),
            "psp_fee": sum(leg["amount"] for leg in legs if leg["account"] == "psp_fees")}
