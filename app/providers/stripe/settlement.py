"""Stripe's settlement data: its balance transactions of one UTC day (and of one payout),
through the official SDK, in the common line shape.

Every Stripe type is named below; a type not named is reported as an adjustment (money moved
on nothing we can place), never as a charge. A dispute's movements are Stripe `adjustment`s
whose source is the dispute: out is the dispute, back in is its reversal. A line's `payment` is
the platform's psp_reference of the payment (a hosted payment's Checkout Session id), found
once per PaymentIntent on the page.
"""
from __future__ import annotations

import datetime

from app.providers.base import SettlementLine, SettlementPage

PAGE_SIZE = 100
TYPES = {
    "charge": "charge", "payment": "charge",
    "refund": "refund", "payment_refund": "refund",
    "refund_failure": "refund_failure", "payment_failure_refund": "refund_failure",
    "stripe_fee": "fee", "application_fee": "fee", "tax_fee": "fee",
    "payout": "payout", "transfer": "payout",     # Holdfast pays sellers by Connect transfer
    "payout_failure": "payout_failure", "payout_cancel": "payout_failure",
    "transfer_cancel": "payout_failure", "transfer_failure": "payout_failure",
    # A Connect transfer reversed (a clawback from the seller's account): its own object.
    "transfer_refund": "transfer_reversal",
    # The treasury's top-up of the platform's balance (money collected at another PSP, for a
    # payout through Connect: services/money/payout_funding), and its reversal when the bank
    # refuses it: each its own object, the top-up (tu_…).
    "topup": "topup", "topup_reversal": "topup_reversal",
    "adjustment": "adjustment",
}


def day_bounds(day: str) -> tuple[int, int]:
    """[start, end) of a UTC day in Unix seconds."""
    start = datetime.datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=datetime.timezone.utc)
    return int(start.timestamp()), int(start.timestamp()) + 86400


def _source(txn: dict) -> dict:
    source = txn.get("source")
    return source if isinstance(source, dict) else {"id": source}


def line_type(txn: dict) -> str:
    """The common type of one balance transaction."""
    source = _source(txn)
    if source.get("object") == "dispute" or str(source.get("id") or "").startswith("dp_"):
        return "dispute" if int(txn["amount"]) < 0 else "dispute_reversal"
    return TYPES.get(txn.get("type"), "adjustment")


def to_line(txn: dict, payment: str | None) -> SettlementLine:
    """A Stripe balance transaction (source expanded) in the common shape."""
    source = _source(txn)
    type_ = line_type(txn)
    # A charge is matched by the payment it belongs to (the reference the platform keeps),
    # not by Stripe's ch_… id; the other objects are known to the platform by their own ids.
    object_id = (payment or source.get("id")) if type_ == "charge" else source.get("id")
    return SettlementLine(
        reference=txn["id"], type=type_, source=object_id,
        payment=payment, gross=int(txn["amount"]), fee=int(txn.get("fee") or 0),
        net=int(txn["net"]), currency=str(txn["currency"]).upper(), created=int(txn["created"]),
        available_on=txn.get("available_on"),
        payout=source.get("id") if type_.startswith("payout") else None,
        description=txn.get("description") or "")


def _intent_of(txn: dict) -> str | None:
    intent = _source(txn).get("payment_intent")
    return intent.get("id") if isinstance(intent, dict) else intent


def _page(provider, params: dict) -> SettlementPage:
    listing = provider._call(provider._client.v1.balance_transactions.list, params)
    data = listing.get("data") or []
    # One lookup per PaymentIntent on the page, not per line.
    payments = {intent: provider._payment_reference(intent)
                for intent in {_intent_of(t) for t in data} if intent}
    lines = tuple(to_line(t, payments.get(_intent_of(t))) for t in data)
    more = bool(listing.get("has_more")) and data
    return SettlementPage(lines, data[-1]["id"] if more else None)


def fetch_page(provider, day: str, cursor: str | None) -> SettlementPage:
    """One page of the day's balance transactions, newest first, sources expanded."""
    start, end = day_bounds(day)
    params = {"created": {"gte": start, "lt": end}, "limit": PAGE_SIZE,
              "expand": ["data.source"]}
    if cursor:
        params["starting_after"] = cursor
    return _page(provider, params)


def fetch_payout(provider, payout: str, cursor: str | None) -> SettlementPage:
    """One page of the balance transactions a Stripe payout swept (`payout=po_…`)."""
    params = {"payout": payout, "limit": PAGE_SIZE, "expand": ["data.source"]}
    if cursor:
        params["starting_after"] = cursor
    return _page(provider, params)
