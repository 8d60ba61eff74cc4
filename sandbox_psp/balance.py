"""The platform's balance at the sandbox, per currency: what captures brought in, less what went out."""
from collections import defaultdict

from sqlalchemy import func

from . import balance_transactions, conversions, disputes
from .models import PaymentSession, Payout, db


def available() -> dict[str, int]:
    """Minor units per currency: captured − refunded − fees − payouts not failed − disputes not won
    (may go negative)."""
    totals = defaultdict(int)
    captured = db.session.execute(
        db.select(PaymentSession.currency, PaymentSession.amount_captured,
                  PaymentSession.amount_refunded, PaymentSession.fee)
        .where(PaymentSession.amount_captured > 0))
    # The fee lives in a JSON column, so it is summed here rather than in SQL.
    for currency, amount_captured, amount_refunded, fee in captured:
        totals[currency] += amount_captured - amount_refunded - (fee["amount"] if fee else 0)
    paid_out = db.session.execute(
        db.select(Payout.currency, func.sum(Payout.amount))
        .where(Payout.status != "failed").group_by(Payout.currency))
    for currency, amount in paid_out:
        totals[currency] -= amount
    for currency, amount in disputes.withdrawn().items():
        totals[currency] -= amount
    for currency, amount in balance_transactions.adjustments_total().items():
        totals[currency] += amount
    for currency, amount in conversions.totals().items():
        totals[currency] += amount
    return dict(sorted(totals.items()))


def available_in(currency: str) -> int:
    """The balance in one currency; 0 where nothing was ever captured."""
    return available().get(currency, 0)


def to_dict() -> dict:
    """The API's `balance` object, one entry per currency that has seen money."""
    return {"object": "balance",
            "available": [{"currency": c, "amount": a} for c, a in available().items()]}
