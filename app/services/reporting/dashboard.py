"""The admin and finance dashboard: money from the ledger, rates from the payment events.

Every figure is one set-based SQL aggregate over the range (never a query per row, never a
Python loop over the history), so the page costs about the same at a million orders
(bench/scale.py). Money comes from the ledger's legs, so it equals what the books say:

- GMV: escrow credits of capture postings (what buyers paid and we captured);
- platform fee revenue: the platform_fees account's movement (fees kept at release, less fees
  given back with refunds and lost chargebacks);
- PSP fees: the psp_fees account's movement; dispute losses: the dispute_losses account's;
- net revenue: platform fee revenue − PSP fees − dispute losses;
- refunds: PSP clearing credits of refund postings less refund reversals.

Rates count payments: a payment "attempted" once the PSP authorized it or declined a card on it
(an abandoned session attempted nothing); the dispute rate is chargebacks opened in the range
over payments captured in the range, the count the card networks' programmes watch.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import Integer, and_, case, cast, distinct, func, or_, select

from app.clock import now
from app.domain.dispute_states import CaseKind
from app.domain.ledger import AccountKind
from app.extensions import db
from app.models import DisputeCase, EscrowHold, LedgerEntry, LedgerTransaction, Payment
from app.models.payouts import Payout
from app.models.refunds import Refund
from app.models.users import User

from .period import Period, parse_period  # noqa: F401  (the dashboard's period, re-exported)

# The card networks' dispute monitoring thresholds (count of disputes / count of sales in a
# month): Visa's early warning at 0.9 %, Mastercard's Excessive Chargeback Merchant at 1.5 %.
THRESHOLDS = ((0.009, "0.9 % Visa monitoring"), (0.015, "1.5 % Mastercard ECM"))
ESCROW_AGES = ((0, 7, "0–7 days"), (8, 14, "8–14 days"), (15, 30, "15–30 days"),
               (31, None, "over 30 days"))
OPEN_ESCROW = ("held", "on_hold")


@dataclass(frozen=True)
class Totals:
    """The money figures of a period, minor units of its currency."""

    gmv: int
    platform_fees: int
    psp_fees: int
    dispute_losses: int
    refunded: int

    @property
    def net_revenue(self) -> int:
        return self.platform_fees - self.psp_fees - self.dispute_losses


@dataclass(frozen=True)
class Rate:
    """A count out of a count (and an amount, where there is one)."""

    label: str
    hits: int
    total: int
    amount: int = 0

    @property
    def rate(self) -> float:
        return self.hits / self.total if self.total else 0.0


@dataclass
class Dashboard:
    """Everything the page shows for one period."""

    period: Period
    totals: Totals
    daily: list[tuple[date, int, int, int]]          # day, GMV, platform fees, PSP fees
    auth_by_provider: list[Rate]
    auth_by_route: list[Rate]
    auth_by_mode: list[Rate]
    declines: list[Rate]                              # reason, count, of all declined
    refunds: Rate                                     # refunds count, of payments captured
    disputes_by_provider: list[Rate]
    disputes_by_seller: list[Rate]
    escrow_held: int
    escrow_ages: list[Rate]                           # bucket, lines, amount
    payouts: list[Rate]                               # status, count, amount
    fraud: list[Rate]                                 # decision, count, of screened
    currencies: list[str] = field(default_factory=list)


def _ledger_sum(period: Period, kind: AccountKind, events: tuple[str, ...] | None = None):
    query = (select(func.coalesce(func.sum(LedgerEntry.amount), 0))
             .join(LedgerEntry.transaction)
             .where(LedgerEntry.kind == kind.value, LedgerEntry.currency == period.currency,
                    LedgerTransaction.created_at >= period.start,
                    LedgerTransaction.created_at < period.end))
    if events:
        query = query.where(LedgerTransaction.event.in_(events))
    return int(db.session.execute(query).scalar_one())


def totals(period: Period) -> Totals:
    """The period's money, from the ledger (each figure on its account's normal side)."""
    refunded = -_ledger_sum(period, AccountKind.PSP_CLEARING, ("refund", "refund_reversed"))
    return Totals(gmv=-_ledger_sum(period, AccountKind.ESCROW, ("capture",)),
                  platform_fees=-_ledger_sum(period, AccountKind.PLATFORM_FEES),
                  psp_fees=_ledger_sum(period, AccountKind.PSP_FEES),
                  dispute_losses=_ledger_sum(period, AccountKind.DISPUTE_LOSSES),
                  refunded=refunded)


def daily(period: Period) -> list[tuple[date, int, int, int]]:
    """GMV, platform fees and PSP fees per day, one grouped query."""
    day = func.date(LedgerTransaction.created_at)
    kind, amount, event = LedgerEntry.kind, LedgerEntry.amount, LedgerTransaction.event
    rows = db.session.execute(
        select(day,
               func.sum(case((and_(kind == "escrow", event == "capture"), -amount), else_=0)),
               func.sum(case((kind == "platform_fees", -amount), else_=0)),
               func.sum(case((kind == "psp_fees", amount), else_=0)))
        .join(LedgerEntry.transaction)
        .where(LedgerEntry.currency == period.currency,
               kind.in_(("escrow", "platform_fees", "psp_fees")),
               LedgerTransaction.created_at >= period.start,
               LedgerTransaction.created_at < period.end)
        .group_by(day)).all()
    found = {str(d): (int(g), int(f), int(p)) for d, g, f, p in rows}
    return [(d, *found.get(d.isoformat(), (0, 0, 0))) for d in period.days]


def _in_period(column, period: Period):
    return and_(column >= period.start, column < period.end)


_AUTHORIZED = Payment.amount_authorized > 0
_DECLINED = and_(Payment.amount_authorized == 0,
                 or_(Payment.decline_code.is_not(None), Payment.status.in_(("declined", "failed"))))


def auth_rates(period: Period, column) -> list[Rate]:
    """Authorized / attempted payments created in the period, grouped by `column`."""
    authorized = func.sum(cast(_AUTHORIZED, Integer))
    attempted = func.sum(cast(or_(_AUTHORIZED, _DECLINED), Integer))
    rows = db.session.execute(
        select(func.coalesce(column, "(none)"), authorized, attempted)
        .where(Payment.currency == period.currency, _in_period(Payment.created_at, period))
        .group_by(column).order_by(column)).all()
    return [Rate(str(label), int(hits or 0), int(total or 0)) for label, hits, total in rows
            if total]


def declines(period: Period) -> list[Rate]:
    """Declined payments by reason, most frequent first."""
    reason = func.coalesce(Payment.decline_code, Payment.status)
    rows = db.session.execute(
        select(reason, func.count()).where(Payment.currency == period.currency, _DECLINED,
                                           _in_period(Payment.created_at, period))
        .group_by(reason).order_by(func.count().desc(), reason)).all()
    total = sum(n for _, n in rows)
    return [Rate(str(code), int(n), total) for code, n in rows]


def refunds(period: Period, refunded: int) -> Rate:
    """Refunds that succeeded in the period, against payments captured in the period."""
    count = db.session.execute(
        select(func.count()).select_from(Refund)
        .where(Refund.currency == period.currency, Refund.status == "succeeded",
               _in_period(Refund.settled_at, period))).scalar_one()
    return Rate("refunds", int(count), _captured_count(period), refunded)


def _captured_count(period: Period) -> int:
    return int(db.session.execute(
        select(func.count(distinct(LedgerTransaction.payment_id)))
        .where(LedgerTransaction.event == "capture", LedgerTransaction.currency == period.currency,
               _in_period(LedgerTransaction.created_at, period))).scalar_one())


def disputes_by_provider(period: Period) -> list[Rate]:
    """Chargebacks opened / payments captured in the period, per PSP."""
    captured = dict(db.session.execute(
        select(Payment.provider, func.count(distinct(Payment.id)))
        .join(LedgerTransaction, LedgerTransaction.payment_id == Payment.id)
        .where(LedgerTransaction.event == "capture", LedgerTransaction.currency == period.currency,
               _in_period(LedgerTransaction.created_at, period))
        .group_by(Payment.provider)).all())
    opened = dict(db.session.execute(
        select(DisputeCase.provider, func.count())
        .where(DisputeCase.kind == CaseKind.CHARGEBACK.value,
               DisputeCase.currency == period.currency,
               _in_period(DisputeCase.created_at, period))
        .group_by(DisputeCase.provider)).all())
    return [Rate(str(p), int(opened.get(p, 0)), int(captured.get(p, 0)))
            for p in sorted(set(captured) | set(opened), key=str)]


def disputes_by_seller(period: Period, limit: int = 20) -> list[Rate]:
    """Chargebacks opened on orders with the seller's lines / the seller's orders captured in
    the period; the highest rates first, at most `limit` sellers."""
    sales = (select(EscrowHold.seller_id.label("seller_id"),
                    func.count(distinct(EscrowHold.order_id)).label("n"))
             .where(EscrowHold.currency == period.currency,
                    _in_period(EscrowHold.created_at, period))
             .group_by(EscrowHold.seller_id).subquery())
    hit = (select(EscrowHold.seller_id.label("seller_id"),
                  func.count(distinct(DisputeCase.id)).label("n"))
           .join(DisputeCase, DisputeCase.order_id == EscrowHold.order_id)
           .where(DisputeCase.kind == CaseKind.CHARGEBACK.value,
                  DisputeCase.currency == period.currency,
                  _in_period(DisputeCase.created_at, period))
           .group_by(EscrowHold.seller_id).subquery())
    hits = func.coalesce(hit.c.n, 0)
    rows = db.session.execute(
        select(User.display_name, User.email, hits, sales.c.n)
        .join(User, User.id == sales.c.seller_id)
        .outerjoin(hit, hit.c.seller_id == sales.c.seller_id)
        .order_by((hits * 1.0 / sales.c.n).desc(), sales.c.n.desc()).limit(limit)).all()
    return [Rate(f"{name} <{email}>", int(h), int(n)) for name, email, h, n in rows]


def escrow(period: Period) -> tuple[int, list[Rate]]:
    """Escrow held at the end of the period (ledger), and today's open lines by age.

    The ledger's escrow balance today equals what the open lines still hold (the invariant
    `ledger_checks.escrow_matches_holds`, asserted after every test), so the balance at the
    period's end is today's open lines less the escrow legs booked since: a read of the open
    lines and of the legs after the range, never a sum over the whole history (bench/scale.py).
    """
    open_amount = EscrowHold.gross_amount - EscrowHold.refunded_amount
    held_now = int(db.session.execute(
        select(func.coalesce(func.sum(open_amount), 0))
        .where(EscrowHold.status.in_(OPEN_ESCROW),
               EscrowHold.currency == period.currency)).scalar_one())
    since = int(db.session.execute(
        select(func.coalesce(func.sum(LedgerEntry.amount), 0)).join(LedgerEntry.transaction)
        .where(LedgerEntry.kind == AccountKind.ESCROW.value,
               LedgerEntry.currency == period.currency,
               LedgerTransaction.created_at >= period.end)).scalar_one())
    held = held_now + since  # legs are + debit: a capture since (credit) was not held then
    today = now()
    buckets = []
    for low, high, label in ESCROW_AGES:
        where = [EscrowHold.status.in_(OPEN_ESCROW), EscrowHold.currency == period.currency,
                 EscrowHold.created_at <= today - timedelta(days=low)]
        if high is not None:
            where.append(EscrowHold.created_at > today - timedelta(days=high + 1))
        n, amount = db.session.execute(
            select(func.count(), func.coalesce(func.sum(open_amount), 0)).where(*where)).one()
        buckets.append(Rate(label, int(n), 0, int(amount)))
    return held, buckets


def payouts(period: Period) -> list[Rate]:
    """Payouts created in the period by status: count and amount."""
    rows = db.session.execute(
        select(Payout.status, func.count(), func.sum(Payout.amount))
        .where(Payout.currency == period.currency, _in_period(Payout.created_at, period))
        .group_by(Payout.status).order_by(Payout.status)).all()
    total = sum(n for _, n, _ in rows)
    return [Rate(status, int(n), total, int(amount or 0)) for status, n, amount in rows]


def fraud(period: Period) -> list[Rate]:
    """Payments created in the period by fraud screening's decision."""
    rows = db.session.execute(
        select(Payment.fraud_decision, func.count())
        .where(Payment.currency == period.currency, Payment.fraud_decision.is_not(None),
               _in_period(Payment.created_at, period))
        .group_by(Payment.fraud_decision).order_by(Payment.fraud_decision)).all()
    total = sum(n for _, n in rows)
    return [Rate(decision, int(n), total) for decision, n in rows]


def currencies() -> list[str]:
    """Currencies the ledger has seen (for the selector)."""
    return sorted(db.session.execute(select(LedgerTransaction.currency).distinct()).scalars())


def build(period: Period) -> Dashboard:
    """The whole dashboard for one period."""
    money = totals(period)
    held, ages = escrow(period)
    return Dashboard(
        period=period, totals=money, daily=daily(period),
        auth_by_provider=auth_rates(period, Payment.provider),
        auth_by_route=auth_rates(period, Payment.routing_rule),
        auth_by_mode=auth_rates(period, Payment.integration_mode),
        declines=declines(period), refunds=refunds(period, money.refunded),
        disputes_by_provider=disputes_by_provider(period),
        disputes_by_seller=disputes_by_seller(period),
        escrow_held=held, escrow_ages=ages, payouts=payouts(period), fraud=fraud(period),
        currencies=sorted(set(currencies()) | {period.currency}))
