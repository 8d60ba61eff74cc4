"""Currency conversions of the platform's balance: sell one currency it holds, buy another, at
the amounts the platform's treasury booked (its quote). Two balance transactions of type
`conversion`, one per currency, share the conversion's id as their source, so the balance and
the settlement report show both legs. Functions here never commit.
"""
from . import balance, balance_transactions
from .errors import ApiError, missing
from .models import BalanceTransaction, db, new_id


def create(args: dict) -> dict:
    """Convert `sell_amount` of `sell_currency` into `buy_amount` of `buy_currency`; 400
    balance_insufficient when the balance in the sold currency is short."""
    available = balance.available_in(args["sell_currency"])
    if args["sell_amount"] > available:
        raise ApiError(400, "invalid_request_error", "balance_insufficient",
                       f"Insufficient funds: the {args['sell_currency']} balance is {available}, "
                       f"less than the conversion's {args['sell_amount']}.", param="sell_amount")
    conversion_id = new_id("cv")
    note = args["description"] or "Currency conversion"
    balance_transactions.record("conversion", conversion_id, -args["sell_amount"], 0,
                                args["sell_currency"], description=note)
    balance_transactions.record("conversion", conversion_id, args["buy_amount"], 0,
                                args["buy_currency"], description=note)
    db.session.flush()
    return get(conversion_id)


def get(conversion_id: str) -> dict:
    """A conversion as the API shows it, rebuilt from its two balance transactions."""
    legs = list(db.session.scalars(db.select(BalanceTransaction).filter_by(
        source=conversion_id, type="conversion").order_by(BalanceTransaction.seq)))
    if len(legs) != 2:
        raise missing("conversion", conversion_id)
    sold, bought = legs
    return {"id": conversion_id, "object": "conversion", "created": sold.created,
            "sell_amount": -sold.amount, "sell_currency": sold.currency,
            "buy_amount": bought.amount, "buy_currency": bought.currency,
            "description": sold.description, "balance_transactions": [sold.id, bought.id]}


def totals() -> dict[str, int]:
    """Net per currency of every conversion (the balance adds them)."""
    rows = db.session.execute(
        db.select(BalanceTransaction.currency, db.func.sum(BalanceTransaction.net))
        .where(BalanceTransaction.type == "conversion").group_by(BalanceTransaction.currency))
    return {currency: int(total) for currency, total in rows}
