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
