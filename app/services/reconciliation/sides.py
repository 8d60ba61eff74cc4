"""The two sides of reconciliation as SQL: the PSP's lines and our ledger's transactions, each
reduced to one row per PSP object (type, reference), and the SQL test of their agreement.
Read-only; the match's working tables and statements are `scratch`'s.

A ledger transaction speaks about a PSP object through the row it posted for (a capture's
payment, a refund, a payout, a Connect transfer reversal) or, for disputes and reconciliation's
own postings and treasury funding, through its intent "<event>:<provider>:<psp reference>"
(ledger_events names which event reports which object). A give-back refund (our
own refund of a duplicate or abandoned payment, services/payments/give_back) has no refund row:
it is the PSP's refund line of that payment, or the payment itself until that line is in. Only
transactions that move the provider's PSP clearing take part.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import (
    String,
    and_,
    case,
    cast,
    func,
    literal,
    null,
    or_,
    select,
)

from app.domain.reconciliation import ONCE_PER_OBJECT
from app.models.ledger import LedgerEntry, LedgerTransaction
from app.models.payments import Payment
from app.models.payouts import Payout, TreasuryConversion
from app.models.reconciliation import Difference, SettlementLine
from app.models.refunds import Refund
from app.models.transfer_reversals import TransferReversal
from app.services.reconciliation.ledger_events import (
    BY_PAYMENT,
    BY_PAYOUT,
    BY_REFUND,
    CONVERSION_INTENT,
    EVENT_TYPES,
    REVERSAL_INTENT,
)

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


def stored_objects(provider: str, since: datetime, until: datetime):
    """The objects (type, ref) of the provider's postings in [since, until) whose reference
    was stored when posted (ledger_events.psp_object): one range of the covering
    `ix_ledger_transactions_psp_day`, no join, no CASE."""
    return (select(lt.c.psp_type.label("type"), lt.c.psp_ref.label("ref"))
            .where(lt.c.psp_provider == provider, lt.c.created_at >= since,
                   lt.c.created_at < until, lt.c.psp_ref.is_not(None)))


def stored_postings(provider: str, since: datetime, keys):
    """Each key's postings since `since` (type, ref, o: 1 when there is one, currency,
    created_at, net, fee), probing `ix_ledger_transactions_psp_object` per key: never every
    posting of the window, which would be a week of ledger for a day of lines. A LEFT JOIN
    (a key without postings gives one row with o NULL, which counts as no posting) because
    SQLite keeps no statistics of temporary tables and would otherwise read the window and
    probe the keys; the left table of a LEFT JOIN is its outer loop."""
    return (select(keys.c.type, keys.c.ref,
                   case((lt.c.psp_ref.is_not(None), 1)).label("o"), lt.c.currency,
                   lt.c.created_at, lt.c.psp_net.label("net"), lt.c.psp_fee.label("fee"))
            .select_from(keys.outerjoin(lt, and_(lt.c.psp_ref == keys.c.ref,
                                                 lt.c.psp_type == keys.c.type,
                                                 lt.c.psp_provider == provider,
                                                 lt.c.created_at >= since))))


def ledger_objects(provider: str, since: datetime):
    """The same rows as `stored_objects` for the provider's transactions whose reference was
    not stored (a give-back refund's, known only once the PSP's refund line is in; a caller
    that did not pass it), worked out from the rows they posted for. Few: read through the
    partial index of those transactions."""
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
           .where(lt.c.psp_provider == provider, lt.c.psp_ref.is_(None),
                  lt.c.created_at >= since, lt.c.event.in_(list(EVENT_TYPES)))
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
            .cte("worked_out"))


def typed_null(type_):
    """NULL of a type: a UNION's branches agree on their columns' types on PostgreSQL too."""
    return cast(null(), type_)


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
