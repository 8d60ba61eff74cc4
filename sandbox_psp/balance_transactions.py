"""Balance transactions: one record per money movement through the platform's balance, modelled
on Stripe's `balance_transaction` (gross `amount`, `fee`, `net`, `available_on`, the payout
involved), and the daily settlement report built from them.

Every module that moves money calls `record` in the same unit of work as the movement, so the
records and the balance can never disagree. Functions here never commit.
"""
import csv
import datetime
import io

from .errors import invalid, missing
from .models import BalanceTransaction, db, new_id, now
from .paging import page

# Stripe's types, named for what moved; `reporting_category` groups them as its reports do.
CATEGORIES = {
    "charge": "charge", "refund": "refund", "refund_failure": "refund_failure",
    "dispute": "dispute", "dispute_reversal": "dispute_reversal", "fee": "fee",
    "payout": "payout", "payout_failure": "payout_reversal", "adjustment": "other_adjustment",
    "conversion": "currency_conversion",
}
# Funds from card activity become available two days later, like Stripe's standard schedule;
# payouts and adjustments move the available balance at once.
PENDING_SECONDS = {"charge": 2 * 86400, "refund_failure": 2 * 86400, "dispute_reversal": 2 * 86400}
DAY = 86400


def record(type_: str, source: str | None, amount: int, fee: int, currency: str, *,
           payout: str | None = None, charge: str | None = None,
           description: str = "") -> BalanceTransaction:
    """Add one balance transaction: `amount` is gross and signed (+ in, − out), `fee` what the
    PSP kept on top (positive), so net = amount − fee."""
    if type_ not in CATEGORIES:
        raise ValueError(f"unknown balance transaction type {type_!r}")
    created = now()
    txn = BalanceTransaction(
        id=new_id("txn"), created=created, type=type_, reporting_category=CATEGORIES[type_],
        source=source, amount=amount, fee=fee, net=amount - fee, currency=currency,
        available_on=created + PENDING_SECONDS.get(type_, 0), payout=payout, charge=charge,
        description=description)
    db.session.add(txn)
    return txn


def of_source(source: str, type_: str) -> BalanceTransaction | None:
    """The first balance transaction of a kind for an object (a charge's, say)."""
    return db.session.scalar(db.select(BalanceTransaction).filter_by(source=source, type=type_)
                             .order_by(BalanceTransaction.seq))


def reprice_charge(session, fee: int) -> BalanceTransaction:
    """Test helper: the PSP charges a captured session another fee than the one it reported at
    capture (a re-rated card, a changed schedule). Balance transactions are never edited, as at
    Stripe: the difference is a new `fee` transaction of that charge."""
    charge = of_source(session.id, "charge")
    if charge is None:
        raise invalid("payment_session", f"Payment session {session.id} has no charge.",
                      "charge_missing")
    if fee > charge.amount:
        raise invalid("fee", f"The fee must be from 0 to {charge.amount}.")
    charged = db.session.scalar(db.select(db.func.coalesce(db.func.sum(BalanceTransaction.fee), 0))
                                .where(BalanceTransaction.charge == session.id,
                                       BalanceTransaction.type.in_(("charge", "fee"))))
    if fee == charged:
        raise invalid("fee", f"The fee of {session.id} is {fee} already.")
    return record("fee", session.id, 0, fee - charged, session.currency, charge=session.id,
                  description=f"Fee of {session.id} re-rated to {fee}")


def adjust(args: dict) -> BalanceTransaction:
    """Test helper: money the PSP moved on its own (a correction, a monthly fee): an
    `adjustment` (signed) or a `fee` (amount taken as a positive fee)."""
    if args["type"] == "fee":
        return record("fee", None, 0, abs(args["amount"]), args["currency"],
                      description=args["description"] or "PSP fee")
    return record("adjustment", None, args["amount"], 0, args["currency"],
                  description=args["description"] or "Adjustment")


def day_bounds(day: str) -> tuple[int, int]:
    """[start, end) Unix seconds of a UTC date given as YYYY-MM-DD; 400 on anything else."""
    try:
        start = datetime.datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=datetime.timezone.utc)
    except (TypeError, ValueError):
        raise invalid("date", "The date must be YYYY-MM-DD.") from None
    first = int(start.timestamp())
    return first, first + DAY


def _int_arg(args, name: str) -> int | None:
    raw = args.get(name)
    if raw is None:
        return None
    if not raw.lstrip("-").isdigit():
        raise invalid(name, f"Invalid {name}: must be an integer (Unix seconds).")
    return int(raw)


def find(args, limit: int) -> tuple[list, bool]:
    """Newest first, filtered like Stripe's list: `payout`, `type`, `source`, `created[gte]`,
    `created[lt]` (also `created[gt]`, `created[lte]`); `starting_after` pages."""
    query = db.select(BalanceTransaction).order_by(BalanceTransaction.seq.desc())
    for name in ("payout", "type", "source"):
        if args.get(name):
            query = query.where(getattr(BalanceTransaction, name) == args[name])
    bounds = {"gte": "__ge__", "gt": "__gt__", "lt": "__lt__", "lte": "__le__"}
    for op, method in bounds.items():
        value = _int_arg(args, f"created[{op}]")
        if value is not None:
            query = query.where(getattr(BalanceTransaction.created, method)(value))
    return page(query, limit, BalanceTransaction, args.get("starting_after"),
                "balance_transaction")


# Stripe's itemized payout reconciliation report, the columns a settlement needs.
REPORT_COLUMNS = ("balance_transaction_id", "created_utc", "available_on_utc", "currency",
                  "gross", "fee", "net", "reporting_category", "balance_transaction_type",
                  "source_id", "charge_id", "automatic_payout_id", "description")


def _utc(ts: int) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def settlement_csv(day: str) -> str:
    """Every balance transaction created on a UTC day, oldest first, as CSV (amounts in minor
    units, as the API gives them)."""
    start, end = day_bounds(day)
    rows = db.session.scalars(db.select(BalanceTransaction).where(
        BalanceTransaction.created >= start, BalanceTransaction.created < end)
        .order_by(BalanceTransaction.seq))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(REPORT_COLUMNS)
    for t in rows:
        writer.writerow([t.id, _utc(t.created), _utc(t.available_on), t.currency, t.amount,
                         t.fee, t.net, t.reporting_category, t.type, t.source or "",
                         t.charge or "", t.payout or "", t.description])
    return out.getvalue()


def adjustments_total() -> dict[str, int]:
    """Net per currency of movements that have no other object (adjustments, standalone fees):
    the balance adds them, since nothing else there accounts for them."""
    rows = db.session.execute(
        db.select(BalanceTransaction.currency, db.func.sum(BalanceTransaction.net))
        .where(BalanceTransaction.type.in_(("adjustment", "fee")))
        .group_by(BalanceTransaction.currency))
    return {currency: int(total) for currency, total in rows}


def get(txn_id: str) -> BalanceTransaction:
    """A balance transaction by id, or a 404 ApiError."""
    txn = db.session.scalar(db.select(BalanceTransaction).filter_by(id=txn_id))
    if txn is None:
        raise missing("balance_transaction", txn_id)
    return txn
