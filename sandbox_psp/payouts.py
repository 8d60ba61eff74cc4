"""Payouts from the balance to a bank account: never more than the balance, settled after a delay.

Functions here change rows but never commit: the caller's unit of work does (the idempotency
runner for a new payout, the deliverer for settlement).
"""
import math
import time

from flask import current_app

from . import balance, balance_transactions, events
from .bank_accounts import FAILURES, PAID
from .errors import ApiError, missing
from .models import Payout, db, new_id, now
from .paging import page

# Every allowed move; anything else is a bug in the sandbox, refused with both statuses named.
# A paid payout may still fail later: the bank sends it back (Stripe reports it as failed).
TRANSITIONS = {"pending": {"paid", "failed"}, "paid": {"failed"}}
# A payout to "platform_account" goes to the platform's own bank account on file (Stripe's
# default external account); the sandbox knows no number for it.
PLATFORM_ACCOUNT = {"type": "platform_account", "last4": "0000"}


def _move(payout: Payout, status: str) -> None:
    if status not in TRANSITIONS.get(payout.status, ()):
        raise ValueError(f"Payout {payout.id} is {payout.status}; it cannot become {status}.")
    payout.status = status
    if status == "failed":  # refused or sent back: the money is in the balance again
        balance_transactions.record("payout_failure", payout.id, payout.amount, 0,
                                    payout.currency, payout=payout.id,
                                    description=f"Payout {payout.id} returned")


def create(args: dict) -> Payout:
    """A `pending` payout from validated arguments (destination None: the platform's own
    account); 400 balance_insufficient if the balance is short."""
    # On SQLite this transaction took the write lock with its first statement (BEGIN IMMEDIATE),
    # so two payouts can never both spend the same balance.
    available = balance.available_in(args["currency"])
    if args["amount"] > available:
        raise ApiError(400, "invalid_request_error", "balance_insufficient",
                       f"Insufficient funds: the {args['currency']} balance is {available}, "
                       f"less than the payout's {args['amount']}.", param="amount")
    account = args["destination"]
    settle_at = time.time() + current_app.config["SANDBOX_PAYOUT_DELAY"]
    payout = Payout(
        id=new_id("po"), created=now(), amount=args["amount"], currency=args["currency"],
        status="pending",
        destination=PLATFORM_ACCOUNT if account is None
        else account.display_data(current_app.config["SANDBOX_FINGERPRINT_KEY"]),
        holder_name=args["holder_name"], description=args["description"], metadata_=args["metadata"],
        # Decided now: once this request ends, the account number is gone. The platform's own
        # account on file is always paid.
        settles_as=PAID if account is None else account.outcome(), settle_at=settle_at,
        arrival_date=math.ceil(settle_at))
    db.session.add(payout)
    balance_transactions.record("payout", payout.id, -payout.amount, 0, payout.currency,
                                payout=payout.id, description=f"Payout to {payout.holder_name}")
    return payout


def settle_due(at: float) -> int:
    """Settle every pending payout due at `at` as its test account says; returns how many."""
    due = list(db.session.scalars(db.select(Payout).where(
        Payout.status == "pending", Payout.settle_at <= at).order_by(Payout.seq)))
    for payout in due:
        if payout.settles_as == PAID:
            _move(payout, "paid")
        else:
            _move(payout, "failed")
            payout.failure_code = payout.settles_as
            payout.failure_message = FAILURES[payout.settles_as]
        events.emit(f"payout.{payout.status}", payout.to_dict())
    return len(due)


def return_late(payout: Payout) -> Payout:
    """Test helper: the bank sends a paid payout back days later (account closed)."""
    _move(payout, "failed")
    payout.failure_code = "account_closed"
    payout.failure_message = FAILURES["account_closed"]
    events.emit("payout.failed", payout.to_dict())
    return payout


def get(payout_id: str) -> Payout:
    """A payout by id, or a 404 ApiError."""
    payout = db.session.scalar(db.select(Payout).filter_by(id=payout_id))
    if payout is None:
        raise missing("payout", payout_id)
    return payout


def find(limit: int, starting_after: str | None) -> tuple[list, bool]:
    """Newest first, Stripe-style cursor: (payouts, has_more)."""
    query = db.select(Payout).order_by(Payout.seq.desc())
    return page(query, limit, Payout, starting_after, "payout")
