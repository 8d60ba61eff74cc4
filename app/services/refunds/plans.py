"""How a refund splits over an order's lines, and who pays for it: read-only planning.

A line can give back what it still holds: its captured share minus what was already returned
(refunds that succeeded, chargebacks the seller lost) minus what PENDING refunds have reserved.
The platform fee is returned in proportion, computed on the cumulative amount so that a line
refunded in several steps returns exactly its whole fee. Where the money is (escrow or the
seller's balance) is decided again when the refund settles; a plan only predicts it.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from app.domain.cross_currency import LineRefund
from app.domain.dispute_states import CaseKind, ChargebackStatus
from app.domain.ledger import AccountKind, LineShare
from app.domain.money import Money, allocate, format_money
from app.domain.payment_states import PaymentStatus
from app.domain.refund_states import RefundStatus
from app.extensions import db
from app.models import DisputeCase, Payment
from app.models.escrow import EscrowHold
from app.models.refunds import Refund, RefundLine
from app.services.errors import Conflict, NotFound, ServiceError
from app.services.money import ledger
from app.services.refunds import converted

S = PaymentStatus
# A partially captured payment (per shipment) refunds its captured lines; a line never
# captured has no escrow hold, so it cannot be refunded: it is voided instead.
REFUNDABLE = frozenset({S.CAPTURED, S.PARTIALLY_CAPTURED, S.COMPLETED, S.PARTIALLY_REFUNDED})
OPEN_CHARGEBACK = (ChargebackStatus.NEEDS_RESPONSE.value, ChargebackStatus.UNDER_REVIEW.value)


@dataclass(frozen=True)
class LinePlan:
    """One order line's part of a refund."""

    order_line_id: int
    hold_id: int
    seller_id: int
    amount: int                 # to the buyer
    from_escrow: int            # the line is still held: the whole amount leaves escrow
    from_seller_balance: int    # released: the seller's share (amount − fee_returned) is clawed back
    fee_returned: int
    seller_available_after: int  # may be < 0: netted against the seller's future sales
    # A converted or taxed order: `amount` above is in the line's own currency; the buyer gets
    # `paid` (in the payment's), of which margin and tax (services/refunds/converted.py).
    paid: int | None = None
    paid_margin: int = 0
    paid_tax: int = 0


@dataclass(frozen=True)
class RefundPlan:
    """A refund's preview: per line, who pays what."""

    payment_id: int
    currency: str
    total: int
    lines: tuple[LinePlan, ...]
    psp_fee_lost: int           # the PSP's processing fee share it does not return
    refundable_before: int
    refundable_after: int

    @property
    def fee_returned(self) -> int:
        """The platform fee given back in all."""
        return sum(line.fee_returned for line in self.lines)


@dataclass(frozen=True)
class LineAllocation(LineShare):
    """A LineShare that also names its order line and escrow hold (for chargebacks)."""

    order_line_id: int = 0
    hold_id: int = 0


def amount_of(value: object, currency: str) -> int:
    """A requested amount as positive integer minor units in the payment's currency."""
    if isinstance(value, Money):
        if value.currency != currency:
            raise ServiceError(f"This payment is in {currency}; the refund was asked in "
                               f"{value.currency}.")
        value = value.amount
    if isinstance(value, bool) or not isinstance(value, int):
        raise ServiceError("A refund amount must be a whole number of minor units (cents).")
    if value <= 0:
        raise ServiceError("A refund amount must be greater than zero.")
    return value


def holds_of(payment: Payment) -> list[EscrowHold]:
    """The payment's escrow holds, in order-line order."""
    return list(db.session.execute(select(EscrowHold).where(
        EscrowHold.order_id == payment.order_id).order_by(EscrowHold.order_line_id)).scalars())


def pending_by_hold(payment_id: int) -> dict[int, tuple[int, int]]:
    """hold id → (amount, fee) reserved by the payment's PENDING refunds."""
    rows = db.session.execute(
        select(RefundLine.hold_id, func.sum(RefundLine.amount), func.sum(RefundLine.fee_returned))
        .join(Refund).where(Refund.payment_id == payment_id,
                            Refund.status == RefundStatus.PENDING.value)
        .group_by(RefundLine.hold_id))
    return {hold_id: (int(amount), int(fee)) for hold_id, amount, fee in rows}


def room(hold: EscrowHold, pending: dict[int, tuple[int, int]]) -> int:
    """What a line can still give back."""
    return hold.remaining - pending.get(hold.id, (0, 0))[0]


def fee_share(hold: EscrowHold, pending: dict[int, tuple[int, int]], amount: int) -> int:
    """The platform fee returned with `amount` more of this line (cumulative, half up)."""
    taken_amount, taken_fee = pending.get(hold.id, (0, 0))
    taken = hold.refunded_amount + taken_amount + amount
    fee_taken = hold.fee_returned + taken_fee
    if taken == hold.gross_amount:
        share = hold.fee_amount - fee_taken   # the last part returns whatever fee is left
    else:
        share = (hold.fee_amount * taken * 2 + hold.gross_amount) // (2 * hold.gross_amount) \
            - fee_taken
    return max(0, min(share, amount))


def open_chargeback(payment: Payment) -> bool:
    """True while the card issuer holds a dispute on the payment."""
    if payment.state == S.DISPUTED:
        return True
    return db.session.execute(select(DisputeCase.id).where(
        DisputeCase.payment_id == payment.id, DisputeCase.kind == CaseKind.CHARGEBACK.value,
        DisputeCase.status.in_(OPEN_CHARGEBACK)).limit(1)).first() is not None


def check_refundable(payment: Payment | None) -> Payment:
    """Refuse payments that cannot be refunded now, saying why."""
    if payment is None:
        raise NotFound("No such payment.")
    if open_chargeback(payment):
        raise Conflict("This payment is disputed with the card issuer; it cannot be refunded "
                       "while the chargeback is open.")
    if payment.state == S.REFUNDED:
        raise Conflict("This payment has already been refunded in full.")
    if payment.state not in REFUNDABLE:
        raise Conflict(f"Only a captured payment can be refunded; this one is "
                       f"{payment.status.replace('_', ' ')}.")
    return payment


def _spread(amount: int, rooms: list[tuple[EscrowHold, int]]) -> list[tuple[EscrowHold, int]]:
    # Largest remainder in proportion to what each line can still give: no part exceeds its
    # room (amount ≤ Σ rooms), and the parts add up to the amount exactly.
    open_rooms = [(hold, r) for hold, r in rooms if r > 0]
    parts = allocate(amount, [r for _, r in open_rooms])
    return [(hold, part) for (hold, _), part in zip(open_rooms, parts) if part > 0]


def choose(payment: Payment, *, lines: dict[int, int] | None, amount: object,
           seller_id: int | None = None) -> list[tuple[EscrowHold, object]]:
    """(hold, part) per line for a request by lines, by amount, or in full (neither). The part
    is an amount of the payment's currency, or for a converted or taxed order a
    cross_currency.LineRefund (both currencies)."""
    if lines and amount is not None:
        raise ServiceError("Refund either chosen lines or an amount, not both.")
    plain = converted.order_of(payment).plain
    holds = [h for h in holds_of(payment) if seller_id is None or h.seller_id == seller_id]
    if not holds:
        raise NotFound("No such order line.")  # a seller with no line on this payment
    pending = pending_by_hold(payment.id)
    by_line = {hold.order_line_id: hold for hold in holds}
    asked = {}
    for line_id, line_amount in sorted((lines or {}).items()):
        if line_id not in by_line:
            raise NotFound("No such order line.")  # never says whose it is
        # A converted line is refunded in its own (settlement) currency.
        hold = by_line[line_id]
        asked[line_id] = amount_of(line_amount, payment.currency if plain else hold.currency)
    wanted = None if amount is None else amount_of(amount, payment.currency)
    if not plain:
        return converted.choose(payment, holds, pending, lines=asked or None, amount=wanted)
    rooms = [(hold, room(hold, pending)) for hold in holds]
    left = sum(r for _, r in rooms)
    if asked:
        chosen = []
        for line_id, line_amount in asked.items():
            hold = by_line[line_id]
            line_room = room(hold, pending)
            if line_amount > line_room:
                raise Conflict(f"At most {format_money(Money(line_room, payment.currency))} of "
                               f"“{hold.line.title}” can still be refunded.")
            chosen.append((hold, line_amount))
        return chosen
    if left <= 0:
        raise Conflict("Nothing is left to refund on this payment.")
    if wanted is None:
        return [(hold, r) for hold, r in rooms if r > 0]
    if wanted > left:
        raise Conflict(f"At most {format_money(Money(left, payment.currency))} can still be "
                       f"refunded; {format_money(Money(wanted, payment.currency))} was asked.")
    return _spread(wanted, rooms)


def build(payment: Payment, chosen: list[tuple[EscrowHold, object]]) -> RefundPlan:
    """The plan for the chosen (hold, part) parts, with fees and balances."""
    pending = pending_by_hold(payment.id)
    if not converted.order_of(payment).plain:
        return _build_converted(payment, chosen, pending)
    before = sum(room(hold, pending) for hold in holds_of(payment))
    available: dict[int, int] = {}
    plans = []
    for hold, amount in chosen:
        fee = fee_share(hold, pending, amount)
        released = hold.released_at is not None
        if hold.seller_id not in available:
            available[hold.seller_id] = ledger.balance(
                AccountKind.SELLER_AVAILABLE, str(hold.seller_id), payment.currency)
        clawback = amount - fee if released else 0
        available[hold.seller_id] -= clawback
        plans.append(LinePlan(hold.order_line_id, hold.id, hold.seller_id, amount,
                              0 if released else amount, clawback, fee,
                              available[hold.seller_id]))
    total = sum(p.amount for p in plans)
    captured = payment.amount_captured
    psp_fee = payment.psp_fee_amount or 0
    fee_lost = (psp_fee * total * 2 + captured) // (2 * captured) if captured else 0
    return RefundPlan(payment.id, payment.currency, total, tuple(plans), fee_lost,
                      before, before - total)


def _build_converted(payment: Payment, chosen: list[tuple[EscrowHold, LineRefund]],
                     pending: dict[int, tuple[int, int]]) -> RefundPlan:
    # Rooms and totals in the payment's currency: what the lines can still return.
    holds = holds_of(payment)
    before = sum(line.room for line in converted.balances(payment, holds, pending).values())
    available: dict[tuple[int, str], int] = {}
    plans = []
    for hold, part in chosen:
        amount = part.settlement
        fee = fee_share(hold, pending, amount)
        released = hold.released_at is not None
        clawback = amount - fee if released else 0
        key = (hold.seller_id, hold.currency)
        if key not in available:
            available[key] = ledger.balance(AccountKind.SELLER_AVAILABLE, str(hold.seller_id),
                                            hold.currency)
        available[key] -= clawback
        plans.append(LinePlan(hold.order_line_id, hold.id, hold.seller_id, amount,
                              0 if released else amount, clawback, fee, available[key],
                              part.back.paid, part.back.margin, part.back.tax))
    total = sum(p.paid for p in plans)
    captured = payment.amount_captured
    psp_fee = payment.psp_fee_amount or 0
    fee_lost = (psp_fee * total * 2 + captured) // (2 * captured) if captured else 0
    return RefundPlan(payment.id, payment.currency, total, tuple(plans), fee_lost,
                      before, before - total)


def plan(payment_id: int, *, lines: dict[int, int] | None = None, amount: object = None,
         seller_id: int | None = None) -> RefundPlan:
    """Preview a refund (read-only); raises ServiceError when it could not be made."""
    payment = check_refundable(db.session.get(Payment, payment_id))
    return build(payment, choose(payment, lines=lines, amount=amount, seller_id=seller_id))


def pending_clawbacks(seller_id: int, currency: str) -> int:
    """The seller's share of PENDING refunds on lines already released."""
    return int(db.session.execute(
        select(func.coalesce(func.sum(RefundLine.amount - RefundLine.fee_returned), 0))
        .join(Refund).join(EscrowHold, EscrowHold.id == RefundLine.hold_id)
        .where(RefundLine.seller_id == seller_id, Refund.currency == currency,
               Refund.status == RefundStatus.PENDING.value,
               EscrowHold.released_at.is_not(None))).scalar_one())


def check_seller_covers(result: RefundPlan, seller_id: int) -> None:
    """A seller refunding released money must have it in their available balance."""
    clawback = sum(line.from_seller_balance for line in result.lines)
    if not clawback:
        return
    available = ledger.balance(AccountKind.SELLER_AVAILABLE, str(seller_id), result.currency)
    free = available - pending_clawbacks(seller_id, result.currency)
    if clawback > free:
        raise Conflict(f"This refund takes {format_money(Money(clawback, result.currency))} back "
                       f"from money already paid to you, but your available balance is "
                       f"{format_money(Money(max(free, 0), result.currency))}. Support can refund "
                       f"it instead.")


def allocations(payment: Payment, amount: int) -> list[LineAllocation]:
    """`amount` spread over the payment's lines as LineShares naming line and hold."""
    if not converted.order_of(payment).plain:
        # Its lines' money is in other currencies or owed as tax: a chargeback there is the
        # platform's (disputes/chargeback_money), with the tax it no longer owes given back.
        raise Conflict("A converted or taxed order's lines do not take a chargeback.")
    chosen = choose(payment, lines=None, amount=amount)
    pending = pending_by_hold(payment.id)
    return [LineAllocation(hold.seller_id, part, fee_share(hold, pending, part),
                           hold.released_at is not None, hold.order_line_id, hold.id)
            for hold, part in chosen]
