"""What a seller's dashboard shows, read from the ledger, escrow holds and payouts.

Read-only: nothing here writes or commits. Amounts are integer minor units, per currency.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import selectinload

from app.clock import now
from app.domain.dispute_states import CHARGEBACK_OPEN, CaseKind
from app.domain.escrow_states import EscrowStatus
from app.domain.ledger import SELLER_KINDS, AccountKind, normal_balance
from app.domain.payout_states import PayoutStatus
from app.extensions import db
from app.models import DisputeCase, Payment
from app.models.escrow import EscrowHold, PayoutSettings
from app.models.ledger import LedgerEntry, LedgerTransaction
from app.models.payouts import Payout
from app.services.money import clawback_reports, ledger

SELLER_KIND_VALUES = [k.value for k in SELLER_KINDS]


@dataclass(frozen=True)
class Balances:
    """One currency's money of a seller, at every stage."""

    currency: str
    in_escrow: int
    available: int
    in_transit: int
    paid_out: int


@dataclass(frozen=True)
class OrderFees:
    """What one order brought a seller: the gross share, the platform's fee, the net."""

    order_id: int
    currency: str
    captured_at: datetime
    lines: int
    released_lines: int
    gross: int       # the seller's share still theirs: captured less refunded and charged back
    fee: int         # the platform's fee on that share (the part returned with refunds is out)
    refunded: int = 0        # what went back to the buyer (refunds, chargebacks lost)
    refunded_lines: int = 0  # lines whose money all went back

    @property
    def net(self) -> int:
        """The seller's part after the fee."""
        return self.gross - self.fee


@dataclass(frozen=True)
class DayTotals:
    """One calendar day (UTC) of a seller's activity in one currency."""

    day: date
    sales: int
    fees: int
    payouts: int


@dataclass(frozen=True)
class StatementRow:
    """One movement on one of the seller's accounts, with the account's balance after it."""

    at: datetime
    event: str
    reference: str
    account: str
    currency: str
    amount: int    # the change on the account's normal side: positive means more for the seller
    balance: int


def balances(seller_id: int) -> list[Balances]:
    """Escrow, available, in transit and paid out, per currency the seller has seen money in."""
    by_currency = ledger.seller_balances(seller_id)
    paid = dict(db.session.execute(
        select(Payout.currency, func.sum(Payout.amount))
        .where(Payout.seller_id == seller_id, Payout.status == PayoutStatus.PAID.value)
        .group_by(Payout.currency)).all())
    return [Balances(currency, amounts.get(AccountKind.ESCROW.value, 0),
                     amounts.get(AccountKind.SELLER_AVAILABLE.value, 0),
                     amounts.get(AccountKind.SELLER_IN_TRANSIT.value, 0),
                     int(paid.get(currency) or 0))
            for currency, amounts in sorted(by_currency.items())]


def unresolved_failures(seller_id: int) -> list[Payout]:
    """Failed or returned payouts with no successful payout after them in the same currency,
    newest first."""
    last_paid = dict(db.session.execute(
        select(Payout.currency, func.max(Payout.id))
        .where(Payout.seller_id == seller_id, Payout.status == PayoutStatus.PAID.value)
        .group_by(Payout.currency)).all())
    failed = db.session.execute(
        select(Payout).where(Payout.seller_id == seller_id,
                             Payout.status.in_([PayoutStatus.FAILED.value,
                                                PayoutStatus.RETURNED.value]))
        .order_by(Payout.id.desc()).limit(20)).scalars()
    return [p for p in failed if p.id > (last_paid.get(p.currency) or 0)]


def to_ship(seller_id: int, limit: int = 100) -> list[EscrowHold]:
    """Captured lines the seller has not marked shipped yet, oldest first: still in escrow
    and not all refunded (a line refunded in full, or charged back and lost, has nothing left
    to ship for)."""
    return list(db.session.execute(
        select(EscrowHold).where(EscrowHold.seller_id == seller_id,
                                 EscrowHold.shipped_at.is_(None),
                                 EscrowHold.status.not_in([EscrowStatus.RELEASED.value,
                                                           EscrowStatus.REFUNDED.value]),
                                 EscrowHold.refunded_amount < EscrowHold.gross_amount)
        .options(selectinload(EscrowHold.line)).order_by(EscrowHold.id).limit(limit)).scalars())


def open_chargebacks(order_ids: set[int]) -> dict[int, DisputeCase]:
    """Order id → its open chargeback: the buyer's bank disputes the payment (a warning before
    shipping, above all when the reason is fraud)."""
    if not order_ids:
        return {}
    return {case.order_id: case for case in db.session.execute(
        select(DisputeCase).where(DisputeCase.kind == CaseKind.CHARGEBACK.value,
                                  DisputeCase.order_id.in_(order_ids),
                                  DisputeCase.status.in_([s.value for s in CHARGEBACK_OPEN])))
        .scalars()}


def fee_breakdown(seller_id: int, limit: int = 50) -> list[OrderFees]:
    """Per order (newest first): the seller's share, the platform fee and the net, after what
    went back to the buyer (refunds and lost chargebacks take their part of the fee back)."""
    released = case((EscrowHold.status == EscrowStatus.RELEASED.value, 1), else_=0)
    refunded = case((EscrowHold.status == EscrowStatus.REFUNDED.value, 1), else_=0)
    rows = db.session.execute(
        select(EscrowHold.order_id, EscrowHold.currency, func.min(EscrowHold.created_at),
               func.count(), func.sum(released),
               func.sum(EscrowHold.gross_amount - EscrowHold.refunded_amount),
               func.sum(EscrowHold.fee_amount - EscrowHold.fee_returned),
               func.sum(EscrowHold.refunded_amount), func.sum(refunded))
        .where(EscrowHold.seller_id == seller_id)
        .group_by(EscrowHold.order_id, EscrowHold.currency)
        .order_by(EscrowHold.order_id.desc()).limit(limit))
    return [OrderFees(order_id, currency, captured, int(n), int(done), int(gross), int(fee),
                      int(back), int(gone))
            for order_id, currency, captured, n, done, gross, fee, back, gone in rows]


def daily_totals(seller_id: int, currency: str, days: int = 30,
                 today: date | None = None) -> list[DayTotals]:
    """Sales, fees and paid-out payouts per day for the last `days` days, oldest first.

    Sales are the seller's escrow credits in capture postings; fees are what release postings
    kept back from the seller's share (escrow debit less the available credit); payouts are
    the in-transit debits of payout_paid postings.
    """
    today = today or now().date()
    first = today - timedelta(days=days - 1)
    totals = {first + timedelta(days=i): [0, 0, 0] for i in range(days)}
    rows = db.session.execute(
        select(LedgerTransaction.created_at, LedgerTransaction.event, LedgerEntry.kind,
               LedgerEntry.amount).join(LedgerEntry.transaction)
        .where(LedgerEntry.owner == str(seller_id), LedgerEntry.currency == currency,
               LedgerEntry.kind.in_(SELLER_KIND_VALUES),
               LedgerTransaction.created_at >= datetime.combine(first, time.min)))
    for at, event, kind, amount in rows:
        day = totals.get(at.date())
        if day is None:
            continue
        if event == "capture" and kind == AccountKind.ESCROW.value:
            day[0] -= amount
        elif event == "escrow_release":
            day[1] += amount  # +gross on escrow, −net on available: the sum is the fee
        elif event == "payout_paid":
            day[2] += amount
    return [DayTotals(day, *values) for day, values in totals.items()]


def statement(seller_id: int, first: date, last: date) -> list[StatementRow]:
    """Every movement on the seller's accounts from `first` to `last` (inclusive, UTC days).

    Balances run per account and currency from the seller's very first entry, so each row's
    balance is the account's true balance after that movement.
    """
    start, end = datetime.combine(first, time.min), datetime.combine(last, time.min) + \
        timedelta(days=1)
    owner = LedgerEntry.owner == str(seller_id)
    mine = LedgerEntry.kind.in_(SELLER_KIND_VALUES)
    running = {(kind, currency): int(signed) for kind, currency, signed in db.session.execute(
        select(LedgerEntry.kind, LedgerEntry.currency, func.sum(LedgerEntry.amount))
        .join(LedgerEntry.transaction)
        .where(owner, mine, LedgerTransaction.created_at < start)
        .group_by(LedgerEntry.kind, LedgerEntry.currency))}
    order_id = func.coalesce(Payment.order_id, EscrowHold.order_id)
    rows = db.session.execute(
        select(LedgerTransaction.created_at, LedgerTransaction.event, LedgerTransaction.payout_id,
               order_id, LedgerEntry.kind, LedgerEntry.currency, LedgerEntry.amount,
               LedgerTransaction.intent)
        .join(LedgerEntry.transaction)
        .outerjoin(Payment, Payment.id == LedgerTransaction.payment_id)
        .outerjoin(EscrowHold, EscrowHold.id == LedgerTransaction.escrow_id)
        .where(owner, mine, LedgerTransaction.created_at >= start,
               LedgerTransaction.created_at < end)
        .order_by(LedgerEntry.id)).all()
    # A clawback reversed from a Stripe transfer has neither payment nor payout on its posting.
    reversals = clawback_reports.statement_references([row.intent for row in rows])
    result = []
    for at, event, payout_id, order, kind, currency, amount, intent in rows:
        key = (kind, currency)
        running[key] = running.get(key, 0) + amount
        account = AccountKind(kind)
        reference = reversals.get(intent) or (
            f"payout {payout_id}" if payout_id else f"order {order}" if order else "")
        result.append(StatementRow(at, event, reference, kind, currency,
                                   normal_balance(account, amount),
                                   normal_balance(account, running[key])))
    return result


def payout_settings(seller_id: int) -> PayoutSettings:
    """The seller's payout settings, or unsaved defaults (reading never creates the row)."""
    found = db.session.get(PayoutSettings, seller_id)
    if found is not None:
        return found
    columns = PayoutSettings.__table__.c
    return PayoutSettings(seller_id=seller_id, schedule=columns.schedule.default.arg,
                          weekday=columns.weekday.default.arg,
                          minimum_amount=columns.minimum_amount.default.arg)
