"""The two sides of reconciliation as SQL: the PSP's lines and our ledger's transactions, each
reduced to one row per PSP object (type, reference). Read-only; used by `matching`.

A ledger transaction speaks about a PSP object through the row it posted for (a capture's
payment, a refund, a payout) or, for disputes and reconciliation's own postings, through its
intent "<event>:<provider>:<psp reference>". Only transactions that move the provider's PSP
clearing take part.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import String, and_, case, cast, func, literal, or_, select, union

from app.models.ledger import LedgerEntry, LedgerTransaction
from app.models.payments import Payment
from app.models.payouts import Payout
from app.models.reconciliation import Difference, SettlementLine
from app.models.refunds import Refund

# Ledger event -> the PSP line type that reports the same movement.
EVENT_TYPES = {
    "capture": "charge", "give_back_captured": "charge", "psp_fee_corrected": "charge",
    "refund": "refund", "refund_reversed": "refund_failure",
    "payout_paid": "payout", "payout_returned": "payout_failure",
    "dispute_opened": "dispute", "dispute_won": "dispute_reversal",
    "psp_adjustment": "adjustment",
}
BY_PAYMENT = ("capture", "give_back_captured")
BY_REFUND = ("refund", "refund_reversed")
BY_PAYOUT = ("payout_paid", "payout_returned")
# How far back a day's match looks for our side of its objects (a capture a few days before
# its charge line is timing); corrections posted later are always newer than the window start.
WINDOW = timedelta(days=7)

lt, le = LedgerTransaction.__table__, LedgerEntry.__table__
sl, dif = SettlementLine.__table__, Difference.__table__
pay, ref, po = Payment.__table__, Refund.__table__, Payout.__table__


def object_type(type_: str, payment: str | None) -> str:
    """The object a line speaks about, for matching: a PSP fee on a charge (a re-rated fee) is
    part of that charge; a standalone fee is an adjustment (money moved on nothing of ours)."""
    if type_ == "fee":
        return "charge" if payment else "adjustment"
    return type_


def line_type(table=None):
    """object_type in SQL, over settlement_lines."""
    t = sl if table is None else table
    return case((and_(t.c.type == "fee", t.c.payment.is_not(None)), "charge"),
                (t.c.type == "fee", "adjustment"), else_=t.c.type)


def ledger_objects(provider: str, since: datetime):
    """One row per ledger transaction of ours about the provider's objects: type, ref,
    currency, created_at, net (PSP clearing moved) and fee (PSP fees booked)."""
    clearing = f"psp_clearing:{provider}"
    txn = (select(lt.c.id, lt.c.event, lt.c.intent, lt.c.payment_id, lt.c.payout_id,
                  lt.c.currency, lt.c.created_at,
                  func.sum(case((le.c.account == clearing, le.c.amount), else_=0)).label("net"),
                  func.sum(case((le.c.kind == "psp_fees", le.c.amount), else_=0)).label("fee"))
           .join(le, le.c.transaction_id == lt.c.id)
           .where(lt.c.created_at >= since, lt.c.event.in_(list(EVENT_TYPES)))
           .group_by(lt.c.id, lt.c.event, lt.c.intent, lt.c.payment_id, lt.c.payout_id,
                     lt.c.currency, lt.c.created_at)
           .having(func.sum(case((le.c.account == clearing, 1), else_=0)) > 0)
           .subquery("txn"))
    refund_id = cast(ref.c.id, String)
    refund_intent = or_(txn.c.intent == literal("refund:", String) + refund_id,
                        txn.c.intent == literal("refund_reversed:", String) + refund_id)
    reference = case(
        (txn.c.event.in_(BY_PAYMENT), pay.c.psp_reference),
        (txn.c.event.in_(BY_REFUND), ref.c.psp_reference),
        (txn.c.event.in_(BY_PAYOUT), po.c.psp_reference),
        else_=func.substr(txn.c.intent, func.length(txn.c.event) + len(provider) + 3))
    return (select(case(EVENT_TYPES, value=txn.c.event).label("type"), reference.label("ref"),
                   txn.c.currency, txn.c.created_at, txn.c.net, txn.c.fee)
            .select_from(txn
                         .outerjoin(pay, and_(pay.c.id == txn.c.payment_id,
                                              txn.c.event.in_(BY_PAYMENT)))
                         .outerjoin(ref, and_(ref.c.payment_id == txn.c.payment_id,
                                              txn.c.event.in_(BY_REFUND), refund_intent))
                         .outerjoin(po, and_(po.c.id == txn.c.payout_id,
                                             txn.c.event.in_(BY_PAYOUT))))
            .cte("ours"))


def touched(provider: str, day: str, start: datetime, end: datetime, ours):
    """The objects a day's match looks at: those the day's lines report, those our ledger
    moved that day, and those still open from earlier matches."""
    return union(
        select(line_type().label("type"), sl.c.source.label("ref"))
        .where(sl.c.provider == provider, sl.c.day == day),
        select(ours.c.type, ours.c.ref).where(ours.c.created_at >= start,
                                              ours.c.created_at < end, ours.c.ref.is_not(None)),
        select(dif.c.type, dif.c.source).where(dif.c.provider == provider,
                                               dif.c.status == "open"),
    ).subquery("touched")


def psp_aggregate(provider: str, keys):
    """Per touched object: how many lines of its own type (a second is a duplicate), sums of
    all its lines (a re-rated fee adds to its charge's), currencies, payment and first day."""
    obj_type = line_type()
    return (select(obj_type.label("type"), sl.c.source,
                   func.sum(case((sl.c.type == obj_type, 1), else_=0)).label("n"),
                   func.sum(sl.c.gross), func.sum(sl.c.fee), func.sum(sl.c.net),
                   func.min(sl.c.currency), func.max(sl.c.currency), func.max(sl.c.payment),
                   func.min(sl.c.day))
            .join(keys, and_(keys.c.type == obj_type, keys.c.ref == sl.c.source))
            .where(sl.c.provider == provider)
            .group_by(obj_type, sl.c.source))


def ours_aggregate(ours, keys):
    """Per touched object: our clearing and fee sums and currencies."""
    return (select(ours.c.type, ours.c.ref, func.sum(ours.c.net), func.sum(ours.c.fee),
                   func.min(ours.c.currency), func.max(ours.c.currency))
            .join(keys, and_(keys.c.type == ours.c.type, keys.c.ref == ours.c.ref))
            .group_by(ours.c.type, ours.c.ref))
