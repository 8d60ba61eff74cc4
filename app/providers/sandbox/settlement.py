"""The sandbox's settlement data: its balance transactions of one UTC day, page by page."""
from __future__ import annotations

import datetime

from app.providers.base import SettlementLine, SettlementPage
from app.providers.sandbox import mapping

PAGE_SIZE = 100
# Every sandbox type named: an unknown one is reported as an adjustment, never as a charge.
TYPES = {"charge": "charge", "refund": "refund", "refund_failure": "refund_failure",
         "dispute": "dispute", "dispute_reversal": "dispute_reversal", "fee": "fee",
         "payout": "payout", "payout_failure": "payout_failure", "adjustment": "adjustment",
         "conversion": "conversion"}


def day_bounds(day: str) -> tuple[int, int]:
    """[start, end) of a UTC day in Unix seconds."""
    start = datetime.datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=datetime.timezone.utc)
    return int(start.timestamp()), int(start.timestamp()) + 86400


def to_line(txn: dict) -> SettlementLine:
    """A sandbox `balance_transaction` in the common shape."""
    currency = mapping.from_psp_currency(txn["currency"])
    source = txn.get("source")
    if txn["type"] == "conversion":
        # A treasury conversion's two legs (one per currency) are matched apart, each against
        # its own posting (services/reconciliation/sides): "<conversion id>:<CURRENCY>".
        source = f"{source}:{currency}"
    return SettlementLine(
        reference=txn["id"], type=TYPES.get(txn["type"], "adjustment"), source=source,
        payment=txn.get("charge"), gross=int(txn["amount"]), fee=int(txn["fee"]),
        net=int(txn["net"]), currency=currency,
        created=int(txn["created"]), available_on=txn.get("available_on"),
        payout=txn.get("payout"), description=txn.get("description") or "")


def fetch_page(call, day: str, cursor: str | None) -> SettlementPage:
    """One page through `call(method, path, params=…)` (the adapter's HTTP call)."""
    start, end = day_bounds(day)
    params = {"created[gte]": start, "created[lt]": end, "limit": PAGE_SIZE}
    if cursor:
        params["starting_after"] = cursor
    listing = call("GET", "/v1/balance_transactions", params=params)
    data = listing.get("data") or []
    lines = tuple(to_line(txn) for txn in data)
    more = bool(listing.get("has_more")) and data
    return SettlementPage(lines, data[-1]["id"] if more else None)
