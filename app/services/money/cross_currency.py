"""The capture of an order that was converted or taxed: escrow holds in each seller's own
currency, and the capture posted per currency (app/domain/cross_currency.py), in the caller's
transaction (escrow.hold_captured hands such orders here)."""
from __future__ import annotations

from collections.abc import Callable

from app.domain import cross_currency as rules
from app.domain.fees import FeeRule, platform_fee, split_capture
from app.extensions import db
from app.models import Order, OrderLine, Payment
from app.models.escrow import EscrowHold
from app.services.money import ledger


def _part(whole: int, share: int, paid: int) -> int:
    # A partial capture takes each component in proportion (half up); the full capture takes
    # the frozen amounts exactly.
    return (whole * share * 2 + paid) // (2 * paid) if paid else 0


def line_money(order: Order, captured: int,
               lines: list[OrderLine] | None = None) -> list[rules.LineMoney]:
    """What each line's captured share is made of (mid, margin, tax; settlement amount); of
    `lines` only when a per-shipment capture took just those."""
    lines = list(order.lines) if lines is None else lines
    shares = split_capture(captured, [line.paid for line in lines])
    result = []
    for line, share in zip(lines, shares):
        full = share == line.paid
        tax = line.tax_amount if full else _part(line.tax_amount, share, line.paid)
        if line.currency == order.currency:
            result.append(rules.LineMoney(share - tax, 0, tax, order.buyer_country,
                                          line.seller_id, line.currency, share - tax))
            continue
        # Rounded apart, tax and margin could overshoot the share by a unit: the margin yields.
        margin = line.fx_margin if full else min(_part(line.fx_margin, share, line.paid),
                                                 share - tax)
        settlement = line.line_total if full else _part(line.line_total, share, line.paid)
        result.append(rules.LineMoney(share - tax - margin, margin, tax, order.buyer_country,
                                      line.seller_id, line.currency, settlement))
    return result


def hold_captured(payment: Payment, order: Order,
                  fee_rule_for: Callable[[OrderLine], FeeRule], *, lines: list[OrderLine],
                  amount: int, psp_fee: int, intent: str) -> bool:
    """Escrow holds per line in its settlement currency and the per-currency capture
    postings; once per intent (the presentment posting's intent is unique)."""
    money = line_money(order, amount, lines)
    postings = rules.capture(payment.provider, payment.currency, amount, psp_fee, money)
    if not ledger.post(postings[0], intent, payment_id=payment.id,
                       psp_ref=payment.psp_reference):
        return False
    for posting in postings[1:]:
        ledger.post(posting, f"{intent}:fx:{posting.currency}", payment_id=payment.id,
                    psp_ref=payment.psp_reference)
    holds = []
    for line, part in zip(lines, money):
        fee = platform_fee(part.settlement, fee_rule_for(line))
        holds.append(EscrowHold(order_line_id=line.id, order_id=order.id,
                                seller_id=line.seller_id, currency=line.currency,
                                gross_amount=part.settlement, fee_amount=fee))
    db.session.add_all(holds)
    db.session.flush()
    return True
