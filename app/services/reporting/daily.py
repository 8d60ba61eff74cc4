"""The dashboard's figures per day: one set of grouped queries over a range of days.

The same function fills the stored roll-ups of closed days (rollups.py) and reads the days not
stored yet (today) live, so a figure read from the roll-ups is by construction the figure the
live query gives. Every figure is additive over days (a sum or a count per day), which is what
lets a period be the sum of its days:

- ledger:<kind>:<event>  amount = the legs of that kind booked by that event (+ debit);
- captured:<provider>    hits = payments with a capture posting that day (a payment captured
                          in parts on two days counts on each: captures per day);
- chargebacks:<provider> hits = chargebacks opened that day;
- auth_provider / auth_route / auth_mode:<label>
                          hits = payments created that day and authorized, total = attempted;
- decline:<reason>       hits = payments created that day and declined, by reason;
- fraud:<decision>       hits = payments created that day with that screening decision;
- seller_orders:<id>     hits = the seller's orders with a line captured that day;
- seller_chargebacks:<id> hits = chargebacks opened that day on orders with the seller's lines;
- refunds:               hits = refunds that succeeded that day (a later reversal does not
                          un-succeed them; its money is the ledger's refund_reversed).
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta

from sqlalchemy import Integer, and_, cast, distinct, func, or_, select

from app.domain.dispute_states import CaseKind
from app.domain.refund_states import RefundStatus
from app.extensions import db
from app.models import DisputeCase, EscrowHold, LedgerEntry, LedgerTransaction, Payment
from app.models.refunds import Refund

LEDGER_KINDS = ("escrow", "platform_fees", "psp_fees", "dispute_losses", "psp_clearing")
AUTHORIZED = Payment.amount_authorized > 0
DECLINED = and_(Payment.amount_authorized == 0,
                or_(Payment.decline_code.is_not(None), Payment.status.in_(("declined", "failed"))))
NONE = "(none)"

# (currency, day, metric, label) → [hits, total, amount]
Figures = dict[tuple[str, date, str, str], list[int]]


def as_day(value) -> date:
    """A grouped date as a date: SQLite's date() answers text, PostgreSQL's a date."""
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def day_start(day: date) -> datetime:
    return datetime.combine(day, time.min)


def aggregate(first: date, last: date, currency: str | None = None,
              start: datetime | None = None, end: datetime | None = None) -> Figures:
    """Every figure of every day from `first` to `last` (both included), for one currency or
    all of them: a handful of grouped queries, each an index range over those days. `start`
    and `end` narrow the instants (part of a day: today up to a moment, or after it)."""
    start = start or day_start(first)
    end = end or day_start(last + timedelta(days=1))
    out: Figures = defaultdict(lambda: [0, 0, 0])

    def add(cur, day, metric, label, hits=0, total=0, amount=0):
        row = out[(cur, as_day(day), metric, str(label))]
        row[0] += int(hits or 0)
        row[1] += int(total or 0)
        row[2] += int(amount or 0)

    def within(column, cur_column):
        where = [column >= start, column < end]
        return where + ([cur_column == currency] if currency else [])

    txn, entry = LedgerTransaction, LedgerEntry
    day = func.date(txn.created_at)
    for d, cur, kind, event, amount in db.session.execute(
            select(day, entry.currency, entry.kind, txn.event, func.sum(entry.amount))
            .join(entry.transaction)
            .where(entry.kind.in_(LEDGER_KINDS), *within(txn.created_at, entry.currency))
            .group_by(day, entry.currency, entry.kind, txn.event)):
        add(cur, d, "ledger", f"{kind}:{event}", amount=amount)

    for d, cur, provider, n in db.session.execute(
            select(day, txn.currency, Payment.provider, func.count(distinct(txn.payment_id)))
            .join(Payment, Payment.id == txn.payment_id)
            .where(txn.event == "capture", *within(txn.created_at, txn.currency))
            .group_by(day, txn.currency, Payment.provider)):
        add(cur, d, "captured", provider, hits=n)

    _payments(add, within)
    _cases_and_sales(add, within)

    # Status grouped, not filtered: with it in the WHERE, SQLite read every refund through
    # ix_refunds_status instead of the day's range of ix_refunds_settled_at.
    refund_day = func.date(Refund.settled_at)
    counted = (RefundStatus.SUCCEEDED.value, RefundStatus.REVERSED.value)
    for d, cur, status, n in db.session.execute(
            select(refund_day, Refund.currency, Refund.status, func.count())
            .where(*within(Refund.settled_at, Refund.currency))
            .group_by(refund_day, Refund.currency, Refund.status)):
        if status in counted:
            add(cur, d, "refunds", "", hits=n)
    return dict(out)


# The figures read from `payments` rows, which change after their day (authorization,
# decline, screening decision): a stored day whose payments changed is re-read for these only.
PAYMENT_METRICS = frozenset({"auth_provider", "auth_route", "auth_mode", "decline", "fraud"})


def payment_figures(first: date, last: date, currency: str) -> Figures:
    """The PAYMENT_METRICS of the days from `first` to `last`, live (one grouped query)."""
    start, end = day_start(first), day_start(last + timedelta(days=1))
    out: Figures = defaultdict(lambda: [0, 0, 0])

    def add(cur, day, metric, label, hits=0, total=0, amount=0):
        row = out[(cur, as_day(day), metric, str(label))]
        row[0] += int(hits or 0)
        row[1] += int(total or 0)

    _payments(add, lambda column, cur_column: [column >= start, column < end,
                                               cur_column == currency])
    return dict(out)


def _payments(add, within) -> None:
    """Rates over the payments created each day: one grouped query for all five figures."""
    day = func.date(Payment.created_at)
    authorized, declined = cast(AUTHORIZED, Integer), cast(DECLINED, Integer)
    route = func.coalesce(Payment.routing_rule, NONE)
    reason = func.coalesce(Payment.decline_code, Payment.status)
    groups = (day, Payment.currency, Payment.provider, route, Payment.integration_mode,
              authorized, declined, reason, Payment.fraud_decision)
    for d, cur, provider, rule, mode, ok, no, why, decision, n in db.session.execute(
            select(*groups, func.count())
            .where(*within(Payment.created_at, Payment.currency)).group_by(*groups)):
        attempted = n if (ok or no) else 0
        hits = n if ok else 0
        for metric, label in (("auth_provider", provider), ("auth_route", rule),
                              ("auth_mode", mode)):
            add(cur, d, metric, label if label is not None else NONE, hits=hits,
                total=attempted)
        if no and not ok:
            add(cur, d, "decline", why, hits=n)
        if decision is not None:
            add(cur, d, "fraud", decision, hits=n)


def _cases_and_sales(add, within) -> None:
    """Chargebacks opened per PSP and per seller, and each seller's orders captured."""
    chargeback = DisputeCase.kind == CaseKind.CHARGEBACK.value
    day = func.date(DisputeCase.created_at)
    for d, cur, provider, n in db.session.execute(
            select(day, DisputeCase.currency, DisputeCase.provider, func.count())
            .where(chargeback, *within(DisputeCase.created_at, DisputeCase.currency))
            .group_by(day, DisputeCase.currency, DisputeCase.provider)):
        add(cur, d, "chargebacks", provider if provider is not None else NONE, hits=n)
    for d, cur, seller, n in db.session.execute(
            select(day, DisputeCase.currency, EscrowHold.seller_id,
                   func.count(distinct(DisputeCase.id)))
            .join(EscrowHold, EscrowHold.order_id == DisputeCase.order_id)
            .where(chargeback, *within(DisputeCase.created_at, DisputeCase.currency))
            .group_by(day, DisputeCase.currency, EscrowHold.seller_id)):
        add(cur, d, "seller_chargebacks", seller, hits=n)
    hold_day = func.date(EscrowHold.created_at)
    for d, cur, seller, n in db.session.execute(
            select(hold_day, EscrowHold.currency, EscrowHold.seller_id,
                   func.count(distinct(EscrowHold.order_id)))
            .where(*within(EscrowHold.created_at, EscrowHold.currency))
            .group_by(hold_day, EscrowHold.currency, EscrowHold.seller_id)):
        add(cur, d, "seller_orders", seller, hits=n)
