"""The two sides of reconciliation as SQL: the PSP's lines and our ledger's transactions, each
reduced to one row per PSP object (type, reference). Read-only but for the match's own scratch
table of keys; used by `matching`.

A ledger transaction speaks about a PSP object through the row it posted for (a capture's
payment, a refund, a payout, a Connect transfer reversal) or, for disputes and reconciliation's
own postings, through its intent "<event>:<provider>:<psp reference>". A give-back refund (our
own refund of a duplicate or abandoned payment, services/payments/give_back) has no refund row:
it is the PSP's refund line of that payment, or the payment itself until that line is in. Only
transactions that move the provider's PSP clearing take part.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    bindparam,
    case,
    cast,
    exists,
    func,
    insert,
    literal,
    literal_column,
    not_,
    null,
    or_,
    select,
    text,
    union_all,
)

from app.domain.reconciliation import ONCE_PER_OBJECT
from app.extensions import db
from app.models.ledger import LedgerEntry, LedgerTransaction
from app.models.payments import Payment
from app.models.payouts import Payout, TreasuryConversion
from app.models.reconciliation import Difference, SettlementLine
from app.models.refunds import Refund
from app.models.transfer_reversals import TransferReversal

# Ledger event -> the PSP line type that reports the same movement.
EVENT_TYPES = {
    "capture": "charge", "give_back_captured": "charge", "psp_fee_corrected": "charge",
    "refund": "refund", "refund_reversed": "refund_failure", "give_back_refunded": "refund",
    "payout_paid": "payout", "payout_returned": "payout_failure",
    "transfer_reversed": "transfer_reversal",
    "dispute_opened": "dispute", "dispute_won": "dispute_reversal",
    "psp_adjustment": "adjustment", "treasury_conversion": "conversion",
}
BY_PAYMENT = ("capture", "give_back_captured", "give_back_refunded")
BY_REFUND = ("refund", "refund_reversed")
BY_PAYOUT = ("payout_paid", "payout_returned")
REVERSAL_INTENT = "transfer_reversed:"
CONVERSION_INTENT = "conversion:"  # services/money/treasury_fx: conversion:<id>:<currency>
# Differences between a PSP's control totals and its lines (services/reconciliation/controls):
# about the report, not about an object, so never a matching key.
SUMMARY_TYPE = "batch_summary"
# How far back a day's match looks for our side of its objects (a capture a few days before
# its charge line is timing); corrections posted later are always newer than the window start.
WINDOW = timedelta(days=7)

lt, le = LedgerTransaction.__table__, LedgerEntry.__table__
sl, dif = SettlementLine.__table__, Difference.__table__
pay, ref, po = Payment.__table__, Refund.__table__, Payout.__table__
trr, tc = TransferReversal.__table__, TreasuryConversion.__table__

# The objects one match looks at, written once and read by every query of that match (a
# temporary table: private to the connection, gone with it; emptied before and after use).
_scratch = MetaData()
KEYS = Table("recon_keys", _scratch, Column("type", String(20), primary_key=True),
             Column("ref", String(64), primary_key=True),
             Column("bad", Integer, nullable=False, default=0),
             Column("open_id", Integer),  # the open difference about it, if any
             prefixes=["TEMPORARY"])
# Our side, computed once per match (the ledger's grouping is the costly read) and read twice:
# for the day's keys and for both sides' comparison.
OURS = Table("recon_ours", _scratch, Column("type", String(20)), Column("ref", String(64)),
             Column("currency", String(3)), Column("created_at", DateTime),
             Column("net", BigInteger), Column("fee", BigInteger), prefixes=["TEMPORARY"])
SCRATCH_DDL = (
    "CREATE TEMPORARY TABLE IF NOT EXISTS recon_keys (type VARCHAR(20) NOT NULL, "
    "ref VARCHAR(64) NOT NULL, bad INTEGER NOT NULL DEFAULT 0, open_id INTEGER, "
    "PRIMARY KEY (type, ref))",
    "CREATE TEMPORARY TABLE IF NOT EXISTS recon_ours (type VARCHAR(20), ref VARCHAR(64), "
    "currency VARCHAR(3), created_at TIMESTAMP, net BIGINT, fee BIGINT)",
    "CREATE INDEX IF NOT EXISTS ix_recon_ours_key ON recon_ours (type, ref)",
)


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
           # Only the two accounts it sums: a posting's other legs (escrow, sellers, reserves)
           # never enter the grouping. An outer join so that the window's transactions are
           # read first (by created_at), their legs by transaction: joined the other way, the
           # account index reads every clearing leg the provider ever had.
           .outerjoin(le, and_(le.c.transaction_id == lt.c.id,
                               le.c.account.in_([clearing, "psp_fees"])))
           .where(lt.c.created_at >= since, lt.c.event.in_(list(EVENT_TYPES)))
           .group_by(lt.c.id, lt.c.event, lt.c.intent, lt.c.payment_id, lt.c.payout_id,
                     lt.c.currency, lt.c.created_at)
           .having(func.sum(case((le.c.account == clearing, 1), else_=0)) > 0)
           .subquery("txn"))
    refund_id = cast(ref.c.id, String)
    refund_intent = or_(txn.c.intent == literal("refund:", String) + refund_id,
                        txn.c.intent == literal("refund_reversed:", String) + refund_id)
    # The PSP's refund line of a give-back payment (it has no refund row of ours).
    # (The type is tested inside the aggregate so that the lookup goes by payment's index.)
    give_back_line = (select(func.min(case((sl.c.type == "refund", sl.c.source))))
                      .where(sl.c.provider == provider, sl.c.payment == pay.c.psp_reference)
                      .scalar_subquery())
    reference = case(
        (txn.c.event == "give_back_refunded", func.coalesce(give_back_line, pay.c.psp_reference)),
        (txn.c.event.in_(BY_PAYMENT), pay.c.psp_reference),
        (txn.c.event.in_(BY_REFUND), ref.c.psp_reference),
        (txn.c.event.in_(BY_PAYOUT), po.c.psp_reference),
        (txn.c.event == "transfer_reversed", trr.c.psp_reference),
        # A conversion has a leg per currency, each an object of its own (sandbox/settlement).
        (txn.c.event == "treasury_conversion",
         tc.c.psp_reference + literal(":", String) + txn.c.currency),
        else_=func.substr(txn.c.intent, func.length(txn.c.event) + len(provider) + 3))
    # Compared as text, as refunds are: casting every intent's tail to a number would fail on
    # PostgreSQL for the intents that are not a reversal's.
    reversal_intent = literal(REVERSAL_INTENT, String) + cast(trr.c.id, String)
    conversion_intent = (literal(CONVERSION_INTENT, String) + cast(tc.c.id, String)
                         + literal(":", String) + txn.c.currency)
    return (select(case(EVENT_TYPES, value=txn.c.event).label("type"), reference.label("ref"),
                   txn.c.currency, txn.c.created_at, txn.c.net, txn.c.fee)
            .select_from(txn
                         .outerjoin(pay, and_(pay.c.id == txn.c.payment_id,
                                              txn.c.event.in_(BY_PAYMENT)))
                         .outerjoin(ref, and_(ref.c.payment_id == txn.c.payment_id,
                                              txn.c.event.in_(BY_REFUND), refund_intent))
                         .outerjoin(po, and_(po.c.id == txn.c.payout_id,
                                             txn.c.event.in_(BY_PAYOUT)))
                         .outerjoin(trr, and_(txn.c.event == "transfer_reversed",
                                              txn.c.intent == reversal_intent))
                         .outerjoin(tc, and_(txn.c.event == "treasury_conversion",
                                             txn.c.intent == conversion_intent)))
            .cte("ours"))


def fill_keys(provider: str, day: str, start: datetime, end: datetime, ours) -> int:
    """Write our side (`ours`, once) into OURS and the objects a day's match looks at into
    KEYS: those the day's lines report, those our ledger moved that day, and those still open
    from earlier matches (with that difference's id); how many objects."""
    session = db.session
    for statement in SCRATCH_DDL:
        session.execute(text(statement))
    clear_keys()
    session.execute(insert(OURS).from_select(
        ["type", "ref", "currency", "created_at", "net", "fee"],
        select(ours.c.type, ours.c.ref, ours.c.currency, ours.c.created_at, ours.c.net,
               ours.c.fee)))
    none = typed_null(Integer)
    touched = union_all(
        select(line_type().label("type"), sl.c.source.label("ref"), none.label("open_id"))
        .where(sl.c.provider == provider, sl.c.day == day),
        select(OURS.c.type, OURS.c.ref, none).where(
            OURS.c.created_at >= start, OURS.c.created_at < end, OURS.c.ref.is_not(None)),
        select(dif.c.type, dif.c.source, dif.c.id).where(
            dif.c.provider == provider, dif.c.status == "open",
            dif.c.type != SUMMARY_TYPE)).subquery("touched")
    grouped = select(touched.c.type, touched.c.ref, func.max(touched.c.open_id)).group_by(
        touched.c.type, touched.c.ref)
    return session.execute(insert(KEYS).from_select(["type", "ref", "open_id"], grouped,
                                                    include_defaults=False)).rowcount


def clear_keys() -> None:
    """Empty the scratch tables (the connection may serve another match next)."""
    db.session.execute(KEYS.delete())
    db.session.execute(OURS.delete())


def _psp_rows(provider: str, day: str):
    """The PSP's lines of the keys, in the shape of `disagreeing`'s union: the day's lines are
    read by day, a key's lines of other days by source (both indexed)."""
    cols = (sl.c.type, sl.c.payment, sl.c.source, sl.c.gross, sl.c.fee, sl.c.net,
            sl.c.currency, sl.c.day)
    lines = union_all(
        select(*cols).where(sl.c.provider == provider, sl.c.day == day),
        select(*cols).where(sl.c.provider == provider, sl.c.day != day,
                            sl.c.source.in_(select(KEYS.c.ref)))).subquery("lines")
    obj_type = line_type(lines)
    return (select(obj_type.label("type"), lines.c.source.label("ref"),
                   literal_column("1").label("p"),
                   case((lines.c.type == obj_type, 1), else_=0).label("n"),
                   lines.c.gross, lines.c.fee, lines.c.net, lines.c.currency.label("pc"),
                   lines.c.payment, lines.c.day, typed_null(Integer).label("o"),
                   typed_null(BigInteger).label("onet"), typed_null(BigInteger).label("ofee"),
                   typed_null(String).label("oc"), typed_null(Integer).label("k"))
            .join(KEYS, and_(KEYS.c.type == obj_type, KEYS.c.ref == lines.c.source)))


def typed_null(type_):
    """NULL of a type: a UNION's branches agree on their columns' types on PostgreSQL too."""
    return cast(null(), type_)


def _no_psp():
    """The PSP columns of a row that is not a PSP line, all NULL."""
    return (typed_null(Integer), typed_null(Integer), typed_null(BigInteger),
            typed_null(BigInteger), typed_null(BigInteger), typed_null(String),
            typed_null(String), typed_null(String))


def _our_rows():
    """Our ledger's transactions about the keys, in the same shape."""
    return (select(OURS.c.type, OURS.c.ref, *_no_psp(), literal_column("1"), OURS.c.net,
                   OURS.c.fee, OURS.c.currency, typed_null(Integer))
            .join(KEYS, and_(KEYS.c.type == OURS.c.type, KEYS.c.ref == OURS.c.ref)))


def agrees(type_, psp_present, n, gross, fee, net, c1, c2,
           ours_present, our_net, our_fee, o1, o2):
    """`domain.reconciliation.classify(...) is None` as a SQL condition, so the objects that
    agree (nearly all of them) are settled without a row reaching Python. Kept equal to
    classify by tests/services/reconciliation/test_svc_agreement.py."""
    return or_(
        and_(psp_present.is_(None), ours_present.is_(None)),
        and_(psp_present.is_not(None), ours_present.is_not(None),
             or_(n <= 1, type_.not_in(sorted(ONCE_PER_OBJECT))),
             c1 == c2, o1 == o2, c1 == o1,
             or_(and_(type_ == "charge", gross == our_net + our_fee, fee == our_fee),
                 and_(type_ != "charge", net == our_net))))


def disagreeing(provider: str, day: str):
    """The keys whose sides do not agree, or that an open difference is about (it may be
    matched now): type, ref, the PSP's presence, own-type count, sums, currencies, payment and
    first day, then ours (presence, net, fee, currencies), then the open difference's id.

    Both sides and the keys are one UNION ALL grouped once by key (no join of two grouped
    sets, which the planner may run as a nested scan)."""
    keys = select(KEYS.c.type, KEYS.c.ref, *_no_psp(), typed_null(Integer),
                  typed_null(BigInteger), typed_null(BigInteger), typed_null(String),
                  KEYS.c.open_id)
    rows = union_all(_psp_rows(provider, day), _our_rows(), keys).subquery("rows")
    c = rows.c
    side = (func.max(c.p), func.sum(c.n), func.sum(c.gross), func.sum(c.fee), func.sum(c.net),
            func.min(c.pc), func.max(c.pc), func.max(c.payment), func.min(c.day),
            func.max(c.o), func.sum(c.onet), func.sum(c.ofee), func.min(c.oc), func.max(c.oc))
    ok = agrees(c.type, side[0], side[1], side[2], side[3], side[4], side[5], side[6],
                side[9], side[10], side[11], side[12], side[13])
    opened = func.max(c.k)
    return (select(c.type, c.ref, *side, opened.label("open_id"))
            .group_by(c.type, c.ref)
            .having(or_(not_(ok), opened.is_not(None))))


def mark_bad(keys: list[tuple[str, str]]) -> None:
    """Flag keys that do not agree: their lines stay in clearing."""
    if keys:
        db.session.execute(KEYS.update().where(KEYS.c.type == bindparam("t"),
                                               KEYS.c.ref == bindparam("r"))
                           .values(bad=1), [{"t": t, "r": r} for t, r in keys])


def settleable(provider: str, report_day: str, day: str | None = None):
    """Condition on settlement_lines: not settled yet and its object agrees (a good key); of
    the report day (read by day), or of `day`, another day (its lines read by source)."""
    good_key = exists().where(KEYS.c.type == line_type(), KEYS.c.ref == sl.c.source,
                              KEYS.c.bad == 0)
    where = [sl.c.provider == provider, sl.c.settlement_txn_id.is_(None), good_key]
    if day is None or day != report_day:
        where += [sl.c.day != report_day, sl.c.source.in_(select(KEYS.c.ref))]
    if day is not None:
        where.append(sl.c.day == day)
    return and_(*where)


def settle_groups(provider: str, report_day: str):
    """Lines to settle per (day, currency): net, first line id, count."""
    groups = []
    for where in (and_(settleable(provider, report_day, report_day)),
                  settleable(provider, report_day)):
        groups += db.session.execute(
            select(sl.c.day, sl.c.currency, func.sum(sl.c.net), func.min(sl.c.id),
                   func.count()).where(where).group_by(sl.c.day, sl.c.currency)).all()
    return groups
