"""The ledger's invariants (reference §5, items 1–3 and 5), checked against the database.

Refunds (docs/money.md, "Refunds and negative balances"): a seller's available balance may be
negative — a refund clawed back after release, netted against future sales — and is the only
seller account allowed below zero. Escrow must always equal what the unreleased lines still
hold, and every refund has exactly the postings its status implies.

Each check returns human-readable problems naming the offending postings; an empty list means the
books are sound. `flask ledger check` and the test suite run them all.
"""
from __future__ import annotations

from sqlalchemy import func, select

from app.domain.dispute_states import CaseKind
from app.domain.escrow_states import EscrowStatus
from app.domain.ledger import SELLER_KINDS, AccountKind, normal_balance
from app.domain.payment_states import PaymentStatus
from app.domain.payout_states import PayoutStatus
from app.domain.refund_states import RefundStatus
from app.extensions import db
from app.models import DisputeCase, Order, Payment, WebhookEvent
from app.models.captures import LineCapture
from app.models.escrow import EscrowHold
from app.models.ledger import LedgerBalance, LedgerEntry, LedgerTransaction
from app.models.payouts import Payout
from app.models.refunds import Refund
from app.services.money import escrow_open

CAPTURED_OR_LATER = {PaymentStatus.CAPTURED.value, PaymentStatus.COMPLETED.value,
                     PaymentStatus.PARTIALLY_REFUNDED.value, PaymentStatus.REFUNDED.value,
                     PaymentStatus.DISPUTED.value}


def postings_balance() -> list[str]:
    """1. Every posting's legs sum to zero, in a single currency."""
    rows = db.session.execute(
        select(LedgerEntry.transaction_id, LedgerTransaction.intent,
               func.sum(LedgerEntry.amount), func.count(func.distinct(LedgerEntry.currency)))
        .join(LedgerTransaction).group_by(LedgerEntry.transaction_id, LedgerTransaction.intent))
    return [f"posting {tid} ({intent}): legs sum to {total} across {n} currencies"
            for tid, intent, total, n in rows if total != 0 or n != 1]


def balances_match_legs() -> list[str]:
    """Every account's running balance (ledger_balances) equals the sum of its legs."""
    legs = {(a, c): int(v) for a, c, v in db.session.execute(
        select(LedgerEntry.account, LedgerEntry.currency, func.sum(LedgerEntry.amount))
        .group_by(LedgerEntry.account, LedgerEntry.currency))}
    kept = {(a, c): int(v) for a, c, v in db.session.execute(
        select(LedgerBalance.account, LedgerBalance.currency, LedgerBalance.balance))}
    return [f"account {a} in {c}: running balance {kept.get((a, c))}, "
            f"legs sum to {legs.get((a, c))}"
            for a, c in sorted(set(legs) | set(kept))
            if legs.get((a, c), 0) != kept.get((a, c), 0) or (a, c) not in kept]


def payments_consistent() -> list[str]:
    """2 and 5. Captured ≤ authorized, refunded ≤ captured, and every captured payment has
    exactly one capture posting whose escrow credits equal what was captured."""
    problems = []
    for p in db.session.execute(select(Payment)).scalars():
        if p.amount_captured > p.amount_authorized or p.amount_refunded > p.amount_captured:
            problems.append(f"payment {p.id}: authorized {p.amount_authorized}, captured "
                            f"{p.amount_captured}, refunded {p.amount_refunded}")
        if p.give_back:
            # Its money is owed back to the buyer, never escrowed (services/payments/give_back).
            booked = db.session.execute(select(LedgerTransaction.intent).where(
                LedgerTransaction.payment_id == p.id)).scalars().all()
            expected = {f"give_back:captured:{p.id}"} if p.amount_captured else set()
            if p.amount_refunded:
                expected.add(f"give_back:refunded:{p.id}")
            if set(booked) != expected:
                problems.append(f"payment {p.id} (given back): postings {sorted(booked)}")
            continue
        captures = db.session.execute(select(LedgerTransaction).where(
            LedgerTransaction.intent == f"capture:payment:{p.id}")).scalars().all()
        parts = db.session.execute(select(LedgerTransaction).where(
            LedgerTransaction.intent.like(f"capture:payment:{p.id}:part:%"))).scalars().all()
        if parts:
            # Captured per shipment (services/payments/captures): one posting per capture.
            problems += _captured_in_parts(p, captures, parts)
            continue
        if p.status in CAPTURED_OR_LATER and len(captures) != 1:
            problems.append(f"payment {p.id}: {p.status} with {len(captures)} capture postings")
        order = db.session.get(Order, p.order_id)
        if captures and not order.plain:
            problems += _converted_capture(p, captures[0])
            continue
        for txn in captures:
            escrow = -sum(e.amount for e in txn.entries if e.kind == AccountKind.ESCROW.value)
            holds = sum(h.gross_amount for h in db.session.execute(
                select(EscrowHold).where(EscrowHold.order_id == p.order_id)).scalars())
            if escrow != p.amount_captured or holds != p.amount_captured:
                problems.append(f"payment {p.id}: captured {p.amount_captured} but posting "
                                f"{txn.id} puts {escrow} in escrow and holds total {holds}")
    return problems


def _captured_in_parts(p: Payment, whole: list, parts: list) -> list[str]:
    """A payment captured line by line: no whole-payment capture posting, and what its parts
    put in escrow (in the payment's currency; converted lines are funded per currency) is what
    was captured, which is what its captured lines cost the buyer."""
    problems = [f"payment {p.id}: captured in parts and whole"] if whole else []
    escrow = -sum(e.amount for txn in parts for e in txn.entries
                  if e.kind == AccountKind.ESCROW.value and e.currency == p.currency)
    lines = sum(db.session.execute(select(LineCapture.amount).where(
        LineCapture.payment_id == p.id, LineCapture.status == "captured")).scalars())
    order = db.session.get(Order, p.order_id)
    if order.plain and escrow != p.amount_captured:
        problems.append(f"payment {p.id}: captured {p.amount_captured}, its parts put {escrow} "
                        f"in escrow")
    if lines != p.amount_captured:
        problems.append(f"payment {p.id}: captured {p.amount_captured}, captured lines {lines}")
    return problems


def _converted_capture(p: Payment, txn: LedgerTransaction) -> list[str]:
    """A converted or taxed order's capture: what the buyer paid is fully credited in their
    currency (escrow, tax, margin, conversion), and each currency's escrow credits equal the
    holds in it (the fx_settle postings fund the other currencies' holds)."""
    problems = []
    credited = -sum(e.amount for e in txn.entries if e.kind not in (
        AccountKind.PSP_CLEARING.value, AccountKind.PSP_FEES.value))
    if credited != p.amount_captured:
        problems.append(f"payment {p.id}: captured {p.amount_captured}, credited {credited}")
    escrow: dict[str, int] = {}
    for t in db.session.execute(select(LedgerTransaction).where(
            LedgerTransaction.payment_id == p.id,
            LedgerTransaction.intent.like(f"capture:payment:{p.id}%"))).scalars():
        escrow[t.currency] = escrow.get(t.currency, 0) - sum(
            e.amount for e in t.entries if e.kind == AccountKind.ESCROW.value)
    holds: dict[str, int] = {}
    for h in db.session.execute(select(EscrowHold).where(
            EscrowHold.order_id == p.order_id)).scalars():
        holds[h.currency] = holds.get(h.currency, 0) + h.gross_amount
    if {k: v for k, v in escrow.items() if v} != holds:
        problems.append(f"payment {p.id}: escrow posted {escrow}, holds {holds}")
    return problems


def releases_consistent() -> list[str]:
    """2. Every release belongs to a released line and moves at most what the line held (what
    was refunded while held stays out of it; `escrow_matches_holds` checks the remainder)."""
    problems = []
    for txn in db.session.execute(select(LedgerTransaction).where(
            LedgerTransaction.event == "escrow_release")).scalars():
        hold = db.session.get(EscrowHold, txn.escrow_id)
        debit = sum(e.amount for e in txn.entries if e.kind == AccountKind.ESCROW.value)
        if hold is None or hold.released_at is None or not 0 < debit <= hold.gross_amount:
            problems.append(f"posting {txn.id} ({txn.intent}): releases {debit}, hold says "
                            f"{hold.gross_amount if hold else 'missing'}")
    return problems


def escrow_matches_holds() -> list[str]:
    """2. Each seller's escrow equals what their unreleased lines still hold, and a line is
    REFUNDED exactly when nothing of it is left."""
    problems = []
    held: dict[tuple[str, str], int] = {}
    for hold in db.session.execute(select(EscrowHold)).scalars():
        if (hold.state == EscrowStatus.REFUNDED) != (hold.remaining == 0):
            problems.append(f"escrow hold {hold.id}: {hold.status} with {hold.remaining} left")
        if hold.released_at is None:
            key = (str(hold.seller_id), hold.currency)
            held[key] = held.get(key, 0) + hold.remaining
    rows = db.session.execute(
        select(LedgerEntry.owner, LedgerEntry.currency, func.sum(LedgerEntry.amount))
        .where(LedgerEntry.kind == AccountKind.ESCROW.value)
        .group_by(LedgerEntry.owner, LedgerEntry.currency))
    booked = {(owner, currency): -int(total) for owner, currency, total in rows}
    for key in sorted(set(held) | set(booked)):
        if held.get(key, 0) != booked.get(key, 0):
            problems.append(f"escrow:{key[0]} {key[1]}: ledger {booked.get(key, 0)}, "
                            f"unreleased lines hold {held.get(key, 0)}")
    return problems


def refunds_posted() -> list[str]:
    """5. Each refund has exactly the postings its status implies, for its amount, and a
    payment's refunded amount is the sum of its succeeded refunds."""
    expected = {RefundStatus.PENDING.value: set(), RefundStatus.FAILED.value: set(),
                RefundStatus.SUCCEEDED.value: {"refund"},
                RefundStatus.REVERSED.value: {"refund", "refund_reversed"}}
    problems = []
    succeeded: dict[int, int] = {}
    for refund in db.session.execute(select(Refund)).scalars():
        txns = db.session.execute(select(LedgerTransaction).where(LedgerTransaction.intent.in_(
            [f"refund:{refund.id}", f"refund_reversed:{refund.id}"]))).scalars().all()
        if {t.event for t in txns} != expected[refund.status] or \
                sum(line.paid for line in refund.lines) != refund.amount:
            problems.append(f"refund {refund.id} ({refund.status}): postings "
                            f"{sorted(t.intent for t in txns)}")
        for txn in txns:
            clearing = sum(e.amount for e in txn.entries
                           if e.kind == AccountKind.PSP_CLEARING.value)
            if abs(clearing) != refund.amount:
                problems.append(f"posting {txn.id} ({txn.intent}): moves {clearing} through the "
                                f"PSP for a refund of {refund.amount}")
        if refund.status == RefundStatus.SUCCEEDED.value:
            succeeded[refund.payment_id] = succeeded.get(refund.payment_id, 0) + refund.amount
    charged_back = set(db.session.execute(select(DisputeCase.payment_id).where(
        DisputeCase.kind == CaseKind.CHARGEBACK.value)).scalars())
    for payment in db.session.execute(select(Payment)).scalars():
        # A lost chargeback may count as refunded too; elsewhere refunds are the only source.
        # A given-back payment's refund is checked with its postings (payments_consistent).
        if payment.id not in charged_back and not payment.give_back \
                and payment.amount_refunded != succeeded.get(payment.id, 0):
            problems.append(f"payment {payment.id}: refunded {payment.amount_refunded}, its "
                            f"succeeded refunds total {succeeded.get(payment.id, 0)}")
    return problems


# A seller's available balance may go below zero (refund after release, docs/money.md);
# money in escrow, reserved or in transit never can.
MAY_BE_NEGATIVE = frozenset({AccountKind.SELLER_AVAILABLE})


def seller_balances_not_negative() -> list[str]:
    """3. No seller account below zero, except available balances (written policy)."""
    rows = db.session.execute(
        select(LedgerEntry.account, LedgerEntry.kind, LedgerEntry.currency,
               func.sum(LedgerEntry.amount))
        .where(LedgerEntry.kind.in_([k.value for k in SELLER_KINDS - MAY_BE_NEGATIVE]))
        .group_by(LedgerEntry.account, LedgerEntry.kind, LedgerEntry.currency))
    return [f"account {account} {currency}: balance {normal_balance(AccountKind(kind), s)}"
            for account, kind, currency, s in rows
            if normal_balance(AccountKind(kind), int(s)) < 0]


def payouts_posted() -> list[str]:
    """4/5. Each payout has exactly the postings its status implies."""
    expected = {PayoutStatus.PENDING.value: {"sent"}, PayoutStatus.IN_TRANSIT.value: {"sent"},
                PayoutStatus.PAID.value: {"sent", "paid"},
                PayoutStatus.FAILED.value: {"sent", "failed"},
                PayoutStatus.RETURNED.value: {"sent", "paid", "returned"}}
    problems = []
    for payout in db.session.execute(select(Payout)).scalars():
        intents = set(db.session.execute(select(LedgerTransaction.intent).where(
            LedgerTransaction.payout_id == payout.id)).scalars())
        kinds = {i.split(":")[1] for i in intents}
        if kinds != expected[payout.status]:
            problems.append(f"payout {payout.id} ({payout.status}): postings {sorted(intents)}")
    return problems


def webhook_events_unique() -> list[str]:
    """5. Every processed webhook event id appears once."""
    rows = db.session.execute(select(WebhookEvent.provider, WebhookEvent.event_id,
                                     func.count()).group_by(WebhookEvent.provider,
                                                            WebhookEvent.event_id)
                              .having(func.count() > 1))
    return [f"webhook {provider}/{event_id} stored {n} times" for provider, event_id, n in rows]


def transfer_reversals_posted() -> list[str]:
    """5. Each Stripe transfer reversal that succeeded has exactly one "transfer_reversed"
    posting of its amount, and every such posting belongs to one (docs/providers.md)."""
    from app.models.transfer_reversals import SUCCEEDED, TransferReversal

    problems = []
    posted = {txn.intent: txn for txn in db.session.execute(select(LedgerTransaction).where(
        LedgerTransaction.event == "transfer_reversed")).scalars()}
    for row in db.session.execute(select(TransferReversal)).scalars():
        txn = posted.pop(f"transfer_reversed:{row.id}", None)
        credit = -sum(e.amount for e in txn.entries
                      if e.kind == AccountKind.SELLER_AVAILABLE.value) if txn else 0
        if (row.status == SUCCEEDED) != (txn is not None) or (txn and credit != row.amount):
            problems.append(f"transfer reversal {row.id} ({row.status}, {row.amount}): "
                            f"posting {txn.intent if txn else 'missing'} credits {credit}")
    problems += [f"posting {txn.id} ({intent}): no transfer reversal of ours"
                 for intent, txn in posted.items()]
    return problems


def fundings_posted() -> list[str]:
    """5. Each treasury funding has exactly its postings: a "treasury_funding" of its amount
    into its rail once topped up, a "treasury_sweep" out of its source once repaid, none
    before (or after a refused top-up); and the treasury, which money only passes through,
    nets to zero (docs/reconciliation.md "Treasury funding")."""
    from app.models.payouts import FundingTransfer

    problems = []
    posted = {txn.intent: txn for txn in db.session.execute(select(LedgerTransaction).where(
        LedgerTransaction.event.in_(("treasury_funding", "treasury_sweep")))).scalars()}
    for row in db.session.execute(select(FundingTransfer)).scalars():
        steps = (("treasury_funding", row.to_provider, row.psp_reference, row.amount,
                  row.status in ("topped_up", "succeeded")),
                 ("treasury_sweep", row.from_provider, row.sweep_reference, -row.amount,
                  row.status == "succeeded"))
        for event, provider, reference, amount, done in steps:
            txn = posted.pop(f"{event}:{provider}:{reference}", None) if reference else None
            legs = {(e.account, e.amount) for e in txn.entries} if txn else set()
            if done != (txn is not None) or (txn and (f"psp_clearing:{provider}", amount)
                                              not in legs):
                problems.append(f"funding {row.id} ({row.status}, {row.amount}): {event} "
                                f"posting {txn.intent if txn else 'missing'}")
    problems += [f"posting {txn.id} ({intent}): no funding transfer of ours"
                 for intent, txn in posted.items()]
    # A funding topped up and not yet repaid is what the treasury has advanced.
    advanced = dict(db.session.execute(select(FundingTransfer.currency,
                                              func.sum(FundingTransfer.amount)).where(
        FundingTransfer.status == "topped_up").group_by(FundingTransfer.currency)).all())
    rows = db.session.execute(select(LedgerEntry.currency, func.sum(LedgerEntry.amount)).where(
        LedgerEntry.kind == AccountKind.TREASURY.value).group_by(LedgerEntry.currency))
    for currency, total in rows:
        ahead = int(advanced.get(currency) or 0)
        if total + ahead:
            problems.append(f"treasury {currency}: {total + ahead} left in it" + (
                f" (beyond {ahead} advanced to fundings in flight)" if ahead else ""))
    return problems


def conversions_posted() -> list[str]:
    """5. Each treasury conversion that succeeded has exactly its two "treasury_conversion"
    postings (the sold currency out of its PSP's clearing, the bought one in), none is posted
    before it succeeds (app/services/money/treasury_fx.py)."""
    from app.models.payouts import TreasuryConversion

    problems = []
    posted = {txn.intent: txn for txn in db.session.execute(select(LedgerTransaction).where(
        LedgerTransaction.event == "treasury_conversion")).scalars()}
    for row in db.session.execute(select(TreasuryConversion)).scalars():
        clearing = f"psp_clearing:{row.provider}"
        for currency, amount in ((row.sold_currency, -row.sold_amount),
                                 (row.bought_currency, row.bought_amount)):
            txn = posted.pop(f"conversion:{row.id}:{currency}", None)
            legs = {(e.account, e.amount) for e in txn.entries} if txn else set()
            if (row.status == "succeeded") != (txn is not None) or \
                    (txn and (clearing, amount) not in legs):
                problems.append(f"conversion {row.id} ({row.status}) {currency}: posting "
                                f"{txn.intent if txn else 'missing'}")
    problems += [f"posting {txn.id} ({intent}): no conversion of ours"
                 for intent, txn in posted.items()]
    return problems


CHECKS = (postings_balance, balances_match_legs, payments_consistent, releases_consistent,
          escrow_matches_holds, escrow_open.days_match_holds,
          refunds_posted, seller_balances_not_negative, payouts_posted, webhook_events_unique,
          transfer_reversals_posted, fundings_posted, conversions_posted)


def check_all() -> list[str]:
    """Every invariant's problems, in order."""
    return [problem for check in CHECKS for problem in check()]
