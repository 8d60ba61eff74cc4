"""Refunds of an order that was converted or taxed: each line gives back its settlement
amount (escrow or the seller's balance, as for any refund) and the buyer gets, in the currency
they paid, that part of what they paid for the line — at the order's frozen rate, margin and
tax returned in proportion, cumulatively rounded so a line refunded in steps returns exactly
what was paid for it. What converting back cost against the day's reference rate is the
platform's, recorded on the refund line and in the ledger (FX_RESULT)."""
from __future__ import annotations

from dataclasses import dataclass

from app.domain import cross_currency as rules
from app.domain.fx import FxError, back_share, to_minor
from app.domain.ledger import LineShare, Posting
from app.extensions import db
from app.models import Order, Payment
from app.models.escrow import EscrowHold
from app.models.refunds import Refund
from app.services.money import cross_currency, fx, ledger


@dataclass(frozen=True)
class PaidBack:
    """What one line's part returns to the buyer, in the presentment currency."""

    at_mid: int
    margin: int
    tax: int

    @property
    def paid(self) -> int:
        return self.at_mid + self.margin + self.tax


def order_of(payment: Payment) -> Order:
    return db.session.get(Order, payment.order_id)


def paid_back(payment: Payment, chosen: list[tuple[EscrowHold, int]],
              pending: dict[int, tuple[int, int]]) -> dict[int, PaidBack]:
    """hold id → what its chosen settlement part gives back to the buyer."""
    order = order_of(payment)
    money = dict(zip((line.id for line in order.lines),
                     cross_currency.line_money(order, payment.amount_captured)))
    result = {}
    for hold, part in chosen:
        line = money[hold.order_line_id]
        done = hold.refunded_amount + pending.get(hold.id, (0, 0))[0]
        whole = hold.gross_amount
        result[hold.id] = PaidBack(back_share(part, done, whole, line.at_mid),
                                   back_share(part, done, whole, line.margin),
                                   back_share(part, done, whole, line.tax))
    return result


def _parts(refund: Refund, order: Order) -> list[rules.RefundPart]:
    parts = []
    for line in refund.lines:
        share = LineShare(line.seller_id, line.amount, line.fee_returned, bool(line.released))
        at_mid = line.paid - line.paid_margin - line.paid_tax
        parts.append(rules.RefundPart(share, line.line.currency, at_mid, line.paid_margin,
                                      line.paid_tax, order.buyer_country))
    return parts


def post_succeeded(payment: Payment, refund: Refund) -> None:
    """The refund's postings (caller's transaction, after each line's `released` is set),
    and the FX difference against today's reference rate for its converted lines."""
    order = order_of(payment)
    postings = rules.refund(refund.provider, refund.currency, _parts(refund, order))
    _post(postings, f"refund:{refund.id}", payment.id)
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
    _post(postings, f"refund_reversed:{refund.id}", payment.id)
    difference = sum(line.fx_difference for line in refund.lines)
    if difference:
        ledger.post(rules.fx_difference(refund.currency, -difference),
                    f"fx_difference:refund_reversed:{refund.id}", payment_id=payment.id)


def _post(postings: list[Posting], intent: str, payment_id: int) -> None:
    ledger.post(postings[0], intent, payment_id=payment_id)
    for posting in postings[1:]:
        ledger.post(posting, f"{intent}:fx:{posting.currency}", payment_id=payment_id)
