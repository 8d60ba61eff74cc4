"""What a seller sees of clawbacks taken back from their Stripe transfers (read-only).

A refund after release or a lost chargeback may leave a Stripe-connected seller below zero;
app/services/money/clawbacks.py then reverses the shortfall from their latest transfers. The
seller's payouts section lists those reversals next to the payouts they came from.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from app.domain.money import Money
from app.extensions import db
from app.models import Payment
from app.models.ledger import LedgerTransaction
from app.models.payouts import Payout
from app.models.transfer_reversals import TransferReversal


@dataclass(frozen=True)
class ReversalLine:
    """One transfer reversal as its seller sees it."""

    id: int
    at: datetime
    amount: int
    currency: str
    status: str            # pending | succeeded | failed
    payout_id: int         # the payout whose Stripe transfer was reversed
    transfer: str | None   # that transfer's Stripe id
    reason: str            # which refund or chargeback took the money

    @property
    def total(self) -> Money:
        """The amount as Money."""
        return Money(self.amount, self.currency)


def reason(event: str, intent: str, order_id: int | None) -> str:
    """Which clawback a reversal covers, in words: the refund (its id) or the lost chargeback."""
    on_order = f" on order {order_id}" if order_id else ""
    if event == "refund":
        return f"Refund {intent.split(':', 1)[1]}{on_order}"
    if event == "dispute_lost":
        return f"Lost chargeback{on_order}"
    return event.replace("_", " ").capitalize() + on_order


def reversals(seller_id: int, limit: int = 20) -> list[ReversalLine]:
    """The seller's own transfer reversals, newest first."""
    rows = db.session.execute(
        select(TransferReversal, Payout.psp_reference, LedgerTransaction.event,
               LedgerTransaction.intent, Payment.order_id)
        .join(Payout, Payout.id == TransferReversal.payout_id)
        .join(LedgerTransaction, LedgerTransaction.id == TransferReversal.source_transaction_id)
        .outerjoin(Payment, Payment.id == LedgerTransaction.payment_id)
        .where(TransferReversal.seller_id == seller_id)
        .order_by(TransferReversal.id.desc()).limit(limit))
    return [ReversalLine(row.id, row.created_at, row.amount, row.currency, row.status,
                         row.payout_id, transfer, reason(event, intent, order_id))
            for row, transfer, event, intent, order_id in rows]


def statement_references(intents: list[str]) -> dict[str, str]:
    """Ledger intent "transfer_reversed:<id>" → a statement reference naming the reversal and
    the payout it was taken from."""
    ids = [int(i.split(":", 1)[1]) for i in intents if i.startswith("transfer_reversed:")]
    if not ids:
        return {}
    rows = db.session.execute(select(TransferReversal.id, TransferReversal.payout_id)
                              .where(TransferReversal.id.in_(ids)))
    return {f"transfer_reversed:{rid}": f"reversal {rid} of payout {payout_id}"
            for rid, payout_id in rows}
