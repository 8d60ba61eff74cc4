"""The buyer-facing state of an order; the payment carries the detail.

An order waits for payment, then is paid or cancelled (the payment failed, expired or was
cancelled, and its stock went back). A cancelled order can still become paid: a PSP may report
an authorization after our expiry ran (a late webhook), and money taken is never ignored.

Once paid, the order follows what happened to its money, so the buyer's list and header say
what the ledger says: partly or fully refunded, disputed by the buyer's bank (a chargeback is
open), or charged back (the bank decided for the buyer). A won chargeback or a refund the PSP
failed late takes it back to where the money is. Charged back is final.

Completed is the end of a paid order's life: its payment reached COMPLETED (settled by the PSP
per the reconciliation, every line released or refunded, the sellers paid). A partly refunded
order keeps saying so (the refund is what the buyer needs to see); a refund or chargeback after
completion still moves a completed order.
"""
from __future__ import annotations

from enum import Enum

from app.domain.payment_states import PaymentStatus as P
from app.domain.transitions import check


class OrderStatus(str, Enum):
    """Where an order stands for the buyer."""

    AWAITING_PAYMENT = "awaiting_payment"
    PAID = "paid"
    CANCELLED = "cancelled"   # payment failed, expired or was cancelled; stock released
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    DISPUTED = "disputed"     # the buyer's bank opened a chargeback; not decided yet
    CHARGED_BACK = "charged_back"  # the bank decided for the buyer
    # Fulfilment (issue 17, see the block after TRANSITIONS).
    SHIPPED = "shipped"       # paid, and every physical line is on its way
    DELIVERED = "delivered"   # paid, and every line reached the buyer (digital ones at capture)
    COMPLETED = "completed"   # the money's journey is over: settled, released, paid out

    def __str__(self) -> str:
        return self.value


O = OrderStatus
# Statuses of an order whose money was taken (the return page says "payment received").
MONEY_TAKEN = frozenset({O.PAID, O.PARTIALLY_REFUNDED, O.REFUNDED, O.DISPUTED, O.CHARGED_BACK,
                         O.COMPLETED})

TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    O.AWAITING_PAYMENT: frozenset({O.PAID, O.CANCELLED}),
    O.CANCELLED: frozenset({O.PAID}),
    O.PAID: frozenset({O.PARTIALLY_REFUNDED, O.REFUNDED, O.DISPUTED, O.COMPLETED}),
    O.PARTIALLY_REFUNDED: frozenset({O.PARTIALLY_REFUNDED, O.REFUNDED, O.DISPUTED, O.PAID}),
    O.REFUNDED: frozenset({O.PARTIALLY_REFUNDED, O.PAID}),  # a late refund failure only
    O.DISPUTED: frozenset({O.PAID, O.PARTIALLY_REFUNDED, O.CHARGED_BACK, O.COMPLETED}),
    O.CHARGED_BACK: frozenset(),
    O.COMPLETED: frozenset({O.PARTIALLY_REFUNDED, O.REFUNDED, O.DISPUTED}),
}

# Fulfilment (issue 17): a paid order moves on as its lines are shipped and delivered
# (services/shop/fulfilment.progress); money news (refunds, chargebacks) still overrides it.
FULFILLED = frozenset({O.SHIPPED, O.DELIVERED})
MONEY_TAKEN = MONEY_TAKEN | FULFILLED
_MONEY_NEWS = frozenset({O.PARTIALLY_REFUNDED, O.REFUNDED, O.DISPUTED})
TRANSITIONS = {
    **TRANSITIONS,
    # Per-shipment capture: an order authorized but never captured, every line voided
    # because no seller shipped in time (services/payments/captures), is cancelled.
    O.PAID: TRANSITIONS[O.PAID] | FULFILLED | {O.CANCELLED},
    O.SHIPPED: _MONEY_NEWS | {O.DELIVERED, O.COMPLETED},
    O.DELIVERED: _MONEY_NEWS | {O.COMPLETED},
}


def transition(current: OrderStatus, target: OrderStatus) -> OrderStatus:
    """Return target if allowed, else raise ForbiddenMove naming both statuses."""
    return check("order", TRANSITIONS, current, target)


def following_payment(before: P, after: P) -> OrderStatus | None:
    """The status a paid order takes when its payment moves from `before` to `after`; None
    when the move says nothing new about the order."""
    if after == P.PARTIALLY_REFUNDED:
        return O.PARTIALLY_REFUNDED
    if after == P.REFUNDED:
        return O.CHARGED_BACK if before == P.DISPUTED else O.REFUNDED
    if after == P.DISPUTED:
        return O.DISPUTED
    if after == P.CAPTURED and before in {P.DISPUTED, P.REFUNDED, P.PARTIALLY_REFUNDED}:
        return O.PAID
    if after == P.COMPLETED and before in {P.CAPTURED, P.DISPUTED}:
        return O.COMPLETED
    return None
