"""A payment's end: COMPLETED (domain.reconciliation.is_complete), reached from the
reconciliation and payout jobs.

A payment is complete when it was captured, the PSP's settlement data reports its charge and
reconciliation matched it to our capture (its line is settled out of clearing), every line of
its order is released to the seller or refunded to the buyer, each seller of a released line
was paid out after that release (a payout run takes the whole available balance) or has
nothing left with us (their share was netted against refunds or clawbacks), and no
reconciliation difference about it is open. The conditions are one query; only the moves are
per payment, because each is a recorded transition.
"""
from __future__ import annotations

from sqlalchemy import String, and_, cast, exists, func, not_, or_, select

from app.database import locked, unit_of_work
from app.domain.payment_states import PaymentStatus as S
from app.domain.reconciliation import PaymentEnd, is_complete
from app.extensions import db
from app.models import EscrowHold, LedgerEntry, Payment, Payout
from app.models.reconciliation import Difference, SettlementLine
from app.services.audit import Actor
from app.services.payments.payments import record_change

FROM = (S.CAPTURED.value, S.PARTIALLY_REFUNDED.value)
CAUSE = "completed: settled by the PSP, every line released or refunded, sellers paid"


def _conditions():
    """COMPLETED's conditions as SQL over Payment (domain.reconciliation.is_complete)."""
    settled = exists().where(SettlementLine.provider == Payment.provider,
                             SettlementLine.type == "charge",
                             SettlementLine.source == Payment.psp_reference,
                             SettlementLine.settlement_txn_id.is_not(None))
    open_line = exists().where(EscrowHold.order_id == Payment.order_id,
                               EscrowHold.status.not_in(("released", "refunded")))
    paid_after = exists().where(Payout.seller_id == EscrowHold.seller_id,
                                Payout.currency == EscrowHold.currency,
                                Payout.status == "paid",
                                Payout.created_at >= EscrowHold.released_at)
    available = (select(func.coalesce(func.sum(LedgerEntry.amount), 0))
                 .where(LedgerEntry.kind.in_(("seller_available", "seller_in_transit")),
                        LedgerEntry.owner == cast(EscrowHold.seller_id, String),
                        LedgerEntry.currency == EscrowHold.currency)
                 .scalar_subquery())
    unpaid_seller = exists().where(EscrowHold.order_id == Payment.order_id,
                                   EscrowHold.status == "released",
                                   not_(paid_after), available < 0)  # credit-normal: < 0 owed
    open_difference = exists().where(Difference.provider == Payment.provider,
                                     Difference.status == "open",
                                     or_(Difference.payment == Payment.psp_reference,
                                         and_(Difference.type == "charge",
                                              Difference.source == Payment.psp_reference)))
    return settled, open_line, unpaid_seller, open_difference


def _ready():
    """Payments that meet every condition of COMPLETED and are not there yet (a query)."""
    settled, open_line, unpaid_seller, open_difference = _conditions()
    return select(Payment.id).where(Payment.status.in_(FROM), Payment.give_back.is_(None),
                                    settled, not_(open_line), not_(unpaid_seller),
                                    not_(open_difference))


def facts(payment_id: int) -> PaymentEnd:
    """The facts COMPLETED is decided on, for one payment (one query)."""
    settled, open_line, unpaid_seller, open_difference = _conditions()
    row = db.session.execute(select(
        Payment.amount_captured > 0, settled, open_line, unpaid_seller, open_difference)
        .where(Payment.id == payment_id)).one()
    return PaymentEnd(captured=bool(row[0]), settled=bool(row[1]), lines_open=int(row[2]),
                      sellers_unpaid=int(row[3]), open_differences=int(row[4]))


def ready_ids(limit: int = 1000) -> list[int]:
    """Ids of the payments ready for COMPLETED, oldest first."""
    return list(db.session.execute(_ready().order_by(Payment.id).limit(limit)).scalars())


def complete_ready(actor: Actor) -> list[int]:
    """Move every ready payment to COMPLETED (its order follows); returns their ids."""
    done = []
    for payment_id in ready_ids():
        with unit_of_work():
            payment = locked(Payment, payment_id)
            # Decided again under the lock, by the domain's rule: a refund or a claim may
            # have come in since the query found it.
            if payment.status in FROM and is_complete(facts(payment_id)):
                record_change(payment, S.COMPLETED, CAUSE, actor)
                done.append(payment_id)
    return done
