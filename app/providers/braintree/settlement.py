"""Braintree's settlement data through the official SDK: the transactions settled on a UTC day
(search by settled_at), each with its disbursement details, and the day's settlement batch
summary (the control totals Braintree reports per kind).

Braintree reports no per-transaction fee in these calls (its fees are billed apart), so a
line's fee is 0 and net equals gross: a settled sale is a charge (in), a settled credit a
refund (out). A line's `payout` names the disbursement that funded it ("disbursement:<date>").
The page cursor is the offset in the day's ordered id list, so an import can resume.
"""
from __future__ import annotations

import calendar
import datetime as dt

import braintree

from app.providers.base import ProviderError, SettlementLine, SettlementPage
from app.providers.braintree import mapping

PAGE_SIZE = 50  # Braintree's search page
KINDS = {"sale": "charge", "credit": "refund"}
DISPUTES = "disputes"  # the cursor of the page after the transactions


def day_range(day: str) -> tuple[dt.datetime, dt.datetime]:
    """The first and last instant of a UTC day (Braintree's range search is inclusive)."""
    start = dt.datetime.strptime(day, "%Y-%m-%d")
    return start, start + dt.timedelta(days=1) - dt.timedelta(seconds=1)


def settled_at(txn) -> dt.datetime | None:
    """When the transaction settled, from its status history."""
    for event in reversed(getattr(txn, "status_history", None) or []):
        if str(event.status) == "settled":
            return event.timestamp
    return None


def to_line(txn) -> SettlementLine:
    """A settled Braintree transaction in the common shape."""
    currency = str(txn.currency_iso_code).upper()
    kind = KINDS.get(str(txn.type), "adjustment")
    amount = mapping.from_amount(txn.amount, currency)
    gross = amount if kind == "charge" else -amount
    at = settled_at(txn) or txn.created_at
    details = getattr(txn, "disbursement_details", None)
    disbursed = getattr(details, "disbursement_date", None) if details else None
    payment = str(txn.id) if kind == "charge" else \
        str(getattr(txn, "refunded_transaction_id", "") or "") or None
    return SettlementLine(
        reference=f"{txn.id}:settled", type=kind, source=str(txn.id), payment=payment,
        gross=gross, fee=0, net=gross, currency=currency,
        created=calendar.timegm(at.timetuple()),
        payout=f"disbursement:{disbursed}" if disbursed else None,
        description=f"Braintree {txn.type} {txn.id}",
        account=str(getattr(txn, "merchant_account_id", "") or "") or None)


def dispute_lines(dispute, day: str, fee: int) -> list[SettlementLine]:
    """The money a Braintree dispute moved on `day`, by its status history's effective dates:
    opening takes the disputed amount and the chargeback fee (Braintree's API does not state
    it: the configured fee, as `retrieve_dispute` uses), a win gives the amount back (not the
    fee). Other statuses move nothing."""
    currency = str(dispute.currency_iso_code).upper()
    amount = mapping.from_amount(getattr(dispute, "amount_disputed", None) or dispute.amount,
                                 currency)
    txn = getattr(dispute, "transaction", None)
    payment = str(getattr(txn, "id", "") or "") or None
    lines = []
    for event in getattr(dispute, "status_history", None) or []:
        effective = str(getattr(event, "effective_date", "") or "")[:10]
        status = str(event.status)
        if effective != day or status not in ("open", "won"):
            continue
        at = getattr(event, "timestamp", None)
        created = calendar.timegm(at.timetuple()) if at else day_bounds(day)
        if status == "open":
            type_, gross, kept = "dispute", -amount, fee
        else:
            won = getattr(dispute, "amount_won", None)
            type_, gross, kept = "dispute_reversal", \
                mapping.from_amount(won, currency) if won else amount, 0
        lines.append(SettlementLine(
            reference=f"{dispute.id}:{status}", type=type_, source=str(dispute.id),
            payment=payment, gross=gross, fee=kept, net=gross - kept, currency=currency,
            created=created, description=f"Braintree dispute {dispute.id} {status}"))
    return lines


def day_bounds(day: str) -> int:
    """Noon of a UTC day in Unix seconds (a line dated by its day only)."""
    return calendar.timegm(dt.datetime.strptime(day, "%Y-%m-%d").timetuple()) + 43200


def fetch_disputes(provider, day: str) -> SettlementPage:
    """The day's dispute movements (dispute.search by effective date), one page: Braintree
    reports chargebacks apart from settled transactions."""
    date = dt.date.fromisoformat(day)
    found = provider._call(lambda: list(provider.gateway.dispute.search(
        braintree.DisputeSearch.effective_date.between(date, date)).disputes.items),
        write=False)
    lines = tuple(line for dispute in found
                  for line in dispute_lines(dispute, day, provider.dispute_fee))
    return SettlementPage(lines, None)


def fetch_page(provider, day: str, cursor: str | None) -> SettlementPage:
    """One page of the day's settled transactions (ids searched once per page, then loaded);
    after the last, the page of the day's disputes (cursor DISPUTES)."""
    if cursor == DISPUTES:
        return fetch_disputes(provider, day)
    start, end = day_range(day)
    ids = provider._call(lambda: provider.gateway.transaction.search(
        braintree.TransactionSearch.settled_at.between(start, end)).ids, write=False)
    offset = int(cursor or 0)
    chunk = ids[offset:offset + PAGE_SIZE]
    found = provider._call(lambda: list(provider.gateway.transaction.search(
        braintree.TransactionSearch.ids.in_list(chunk)).items), write=False) if chunk else []
    by_id = {str(t.id): t for t in found}
    lines = tuple(to_line(by_id[i]) for i in chunk if i in by_id)
    following = offset + PAGE_SIZE
    return SettlementPage(lines, str(following) if following < len(ids) else DISPUTES)


def batch_summary(provider, day: str, currency: str) -> list[dict]:
    """The day's settlement batch summary: one record per kind, card type and merchant
    account, with count and amount settled (minor units of the merchant account's
    `currency`: the summary does not name it)."""
    result = provider._call(provider.gateway.settlement_batch_summary.generate, day,
                            write=False)
    if not getattr(result, "is_success", False):
        raise ProviderError(f"no settlement batch summary for {day}", code="summary_failed",
                            executed=False)
    records = []
    for record in result.settlement_batch_summary.records:
        records.append({"kind": record["kind"], "card_type": record["card_type"],
                        "merchant_account_id": record["merchant_account_id"],
                        "count": int(record["count"]),
                        "amount_settled": mapping.from_amount(record["amount_settled"],
                                                              currency)})
    return records
