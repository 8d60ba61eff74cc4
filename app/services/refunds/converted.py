"""Refunds of an order that was converted or taxed: each line gives back its settlement
amount (escrow or the seller's balance, as for any refund) and the buyer gets, in the currency
they paid, that part of what they paid for the line — at the order's frozen rate, margin and
tax returned in proportion, cumulatively rounded so a line refunded in steps returns exactly
what was paid for it. A refund is asked by lines (each in its own currency), by one amount in
the buyer's currency (spread over the lines; the buyer gets exactly that amount), or in full
(domain/cross_currency.by_settlement / by_presentment). What converting back cost against the
day's reference rate is the platform's, recorded on the refund line and in the ledger
(FX_RESULT)."""
from __future__ import annotations

from sqlalchemy import func, select

from app.domain import cross_currency as rules
from app.domain.capture_states import LineCaptureStatus
from app.domain.fx import FxError, to_minor
from app.domain.ledger import LineShare, Posting
from app.domain.money import Money, allocate, format_money
from app.domain.refund_states import RefundStatus
from app.extensions import db
from app.models import Order, Payment
from app.models.captures import LineCapture
from app.models.escrow import EscrowHold
from app.models.refunds import Refund, RefundLine
from app.services.errors import Conflict
from app.services.money import cross_currency, fx, ledger


def order_of(payment: Payment) -> Order:
    return db.session.get(Order, payment.order_id)


def captured_money(payment: Payment, order: Order) -> dict[int, rules.LineMoney]:
    """Order line id → what the buyer paid for it, of what was captured. Captured per shipment
    (services/payments/captures), each line was captured whole on its own and a voided one not
    at all; otherwise the payment's capture is split over every line."""
    per_shipment = list(db.session.execute(
        select(LineCapture.order_line_id, LineCapture.status)
        .where(LineCapture.payment_id == payment.id)))
    if not per_shipment:
        lines = list(order.lines)
        return dict(zip((line.id for line in lines),
                        cross_currency.line_money(order, payment.amount_captured)))
    taken = {line_id for line_id, status in per_shipment
             if status == LineCaptureStatus.CAPTURED.value}
    lines = [line for line in order.lines if line.id in taken]
    return dict(zip((line.id for line in lines), cross_currency.line_money(
        order, sum(line.paid for line in lines), lines)))


def _returned(payment_id: int) -> dict[int, rules.BuyerParts]:
    """hold id → what settled and pending refunds gave (or give) back to the buyer for it."""
    rows = db.session.execute(
        select(RefundLine.hold_id, func.sum(RefundLine.paid_amount),
               func.sum(RefundLine.paid_margin), func.sum(RefundLine.paid_tax))
        .join(Refund).where(Refund.payment_id == payment_id, Refund.status.in_(
            (RefundStatus.PENDING.value, RefundStatus.SUCCEEDED.value)))
        .group_by(RefundLine.hold_id))
    return {hold_id: rules.BuyerParts(int(paid or 0) - int(margin) - int(tax), int(margin),
                                      int(tax), None)
            for hold_id, paid, margin, tax in rows}


def balances(payment: Payment, holds: list[EscrowHold],
             pending: dict[int, tuple[int, int]]) -> dict[int, rules.LineBalance]:
    """hold id → the line's money in both currencies: captured and already given back."""
    money = captured_money(payment, order_of(payment))
    returned = _returned(payment.id)
    result = {}
    for hold in holds:
        paid = money[hold.order_line_id]
        back = returned.get(hold.id, rules.BuyerParts(0, 0, 0, None))
        result[hold.id] = rules.LineBalance(
            rules.BuyerParts(paid.at_mid, paid.margin, paid.tax, paid.tax_country),
            hold.gross_amount,
            rules.BuyerParts(back.at_mid, back.margin, back.tax, paid.tax_country),
            hold.refunded_amount + pending.get(hold.id, (0, 0))[0],
            converted=hold.currency != payment.currency)
    return result


def choose(payment: Payment, holds: list[EscrowHold], pending: dict[int, tuple[int, int]], *,
           lines: dict[int, int] | None, amount: int | None
           ) -> list[tuple[EscrowHold, rules.LineRefund]]:
    """Each chosen line's part in both currencies: `lines` gives settlement amounts (already
    checked positive), `amount` one amount in the buyer's currency spread over the lines in
    proportion to what each can still return, neither everything left."""
    balance = balances(payment, holds, pending)
    if lines:
        by_line = {hold.order_line_id: hold for hold in holds}
        chosen = []
        for line_id, line_amount in sorted(lines.items()):
            hold = by_line[line_id]
            line = balance[hold.id]
            if line_amount > line.settlement_room:
                most = format_money(Money(line.settlement_room, hold.currency))
                raise Conflict(f"At most {most} of “{hold.line.title}” can still be refunded.")
            chosen.append((hold, rules.by_settlement(line, line_amount)))
        return _worth_something(chosen, payment.currency)
    open_lines = [(hold, balance[hold.id]) for hold in holds
                  if balance[hold.id].room > 0 or balance[hold.id].settlement_room > 0]
    left = sum(line.room for _, line in open_lines)
    if not open_lines:
        raise Conflict("Nothing is left to refund on this payment.")
    if amount is None:
        return _worth_something([(hold, rules.by_presentment(line, line.room) if line.room
                                  else rules.by_settlement(line, line.settlement_room))
                                 for hold, line in open_lines], payment.currency)
    if amount > left:
        raise Conflict(f"At most {format_money(Money(left, payment.currency))} can still be "
                       f"refunded; {format_money(Money(amount, payment.currency))} was asked.")
    with_room = [(hold, line) for hold, line in open_lines if line.room > 0]
    parts = allocate(amount, [line.room for _, line in with_room])
    return [(hold, rules.by_presentment(line, part))
            for (hold, line), part in zip(with_room, parts) if part > 0]


def _worth_something(chosen: list[tuple[EscrowHold, rules.LineRefund]], currency: str):
    if not sum(part.back.paid for _, part in chosen):
        raise Conflict(f"That is less than the smallest unit of {currency} the buyer paid in; "
                       f"refund a larger amount.")
    return chosen


def _parts(refund: Refund, order: Order) -> list[rules.RefundPart]:
    parts = []
    for line in refund.lines:
        # A part that gives back no settlement unit moves no seller money: the platform
        # carries it (its fx_difference says how much).
        share = (LineShare(line.seller_id, line.amount, line.fee_returned, bool(line.released))
                 if line.amount else None)
        at_mid = line.paid - line.paid_margin - line.paid_tax
        parts.append(rules.RefundPart(at_mid, line.paid_margin, line.paid_tax,
                                      order.buyer_country, share, line.line.currency))
    return parts


def post_succeeded(payment: Payment, refund: Refund) -> None:
    """The refund's postings (caller's transaction, after each line's `released` is set),
    and the FX difference against today's reference rate for its converted lines."""
    order = order_of(payment)
    postings = rules.refund(refund.provider, refund.currency, _parts(refund, order))
    _post(postings, f"refund:{refund.id}", payment.id, refund.psp_reference)
    difference = 0
    table = fx.current()
    for line in refund.lines:
        if line.line.currency == refund.currency or table is None:
            continue
        try:
            today = to_minor(line.amount, line.line.currency, refund.currency,
                             table.rate(line.line.currency, refund.currency))
        except FxError:
            continue
        line.fx_difference = (line.paid - line.paid_margin - line.paid_tax) - today
        difference += line.fx_difference
    if difference:
        ledger.post(rules.fx_difference(refund.currency, difference),
                    f"fx_difference:refund:{refund.id}", payment_id=payment.id)


def post_reversed(payment: Payment, refund: Refund) -> None:
    """A refund the PSP failed after it had succeeded: its postings turned around."""
    order = order_of(payment)
    postings = rules.reversed_postings(
        rules.refund(refund.provider, refund.currency, _parts(refund, order)))
    _post(postings, f"refund_reversed:{refund.id}", payment.id, refund.psp_reference)
    difference = sum(line.fx_difference for line in refund.lines)
    if difference:
        ledger.post(rules.fx_difference(refund.currency, -difference),
                    f"fx_difference:refund_reversed:{refund.id}", payment_id=payment.id)


def _post(postings: list[Posting], intent: str, payment_id: int,
          psp_ref: str | None) -> None:
    ledger.post(postings[0], intent, payment_id=payment_id, psp_ref=psp_ref)
    for posting in postings[1:]:
        ledger.post(posting, f"{intent}:fx:{posting.currency}", payment_id=payment_id)


def tax_left(payment: Payment) -> tuple[str | None, int]:
    """(country, tax) the payment collected and no settled refund gave back yet."""
    order = order_of(payment)
    collected = sum(line.tax for line in captured_money(payment, order).values())
    given_back = db.session.execute(
        select(func.coalesce(func.sum(RefundLine.paid_tax), 0)).join(Refund)
        .where(Refund.payment_id == payment.id,
               Refund.status == RefundStatus.SUCCEEDED.value)).scalar_one()
    return order.buyer_country, collected - int(given_back)
