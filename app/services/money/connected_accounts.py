"""Sellers' Stripe connected accounts: where a seller's payouts go when Stripe pays them.

A seller registers the id of the Express/Standard account they opened with Stripe (acct_…).
The id is checked twice: its shape here, then its existence by asking Stripe through the
adapter — a typo must not send money into the void. Changing it needs the password again,
like the bank account: both decide where the seller's money goes.
"""
from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.database import locked, unit_of_work
from app.extensions import db
from app.models.provider_accounts import ProviderAccount
from app.models.users import Role, User
from app.providers.base import ProviderError
from app.providers.registry import get_provider
from app.services import audit
from app.services.audit import Actor
from app.services.errors import Conflict, NotFound, PaymentUnavailable, ServiceError

STRIPE = "stripe"
# Stripe's account ids: "acct_" and 16 letters/digits today; a little room either way.
ACCOUNT_ID = re.compile(r"acct_[A-Za-z0-9]{8,32}")
TAKEN = "This Stripe account cannot be used here. Contact support if it is yours."


def stripe_adapter():
    """The Stripe adapter when this deployment has Stripe configured, else None."""
    try:
        return get_provider(STRIPE)
    except KeyError:
        return None


def stripe_account(seller_id: int) -> ProviderAccount | None:
    """The seller's registered Stripe connected account, if any."""
    return db.session.execute(select(ProviderAccount).where(
        ProviderAccount.user_id == seller_id, ProviderAccount.provider == STRIPE)
    ).scalar_one_or_none()


def register_stripe_account(seller_id: int, account_ref: str, password: str,
                            actor: Actor) -> ProviderAccount:
    """Set (or change) the seller's connected account after checking it with Stripe."""
    adapter = stripe_adapter()
    if adapter is None:
        raise Conflict("Stripe is not in use on this marketplace.")
    account_ref = (account_ref or "").strip()
    if not ACCOUNT_ID.fullmatch(account_ref):
        raise ServiceError("A Stripe account id looks like acct_ followed by letters and "
                           "digits, e.g. acct_1Nv0FGQ9RKHgCVdK.")
    try:
        found = adapter.retrieve_account(account_ref)
    except ProviderError as exc:
        if exc.executed is False and exc.status == 404:
            raise ServiceError(f"Stripe has no account {account_ref}. Copy the id from "
                               "your Stripe dashboard.") from None
        raise PaymentUnavailable("Stripe could not be asked about this account just now; "
                                 "try again in a minute.") from None
    try:
        with unit_of_work():
            seller = locked(User, seller_id)  # serialises two changes by the same seller
            if seller is None or not seller.has_role(Role.SELLER):
                raise NotFound("No such seller.")
            refusal = _refusal(seller, account_ref, password)
            if refusal is None:
                return _save(seller_id, account_ref, found.transfers_active, actor)
            # The refusal is committed (guessing shows up in the log); nothing else changes.
            audit.record(actor, "provider_account.changed", f"user:{seller_id}",
                         outcome="failure", provider=STRIPE, reason=refusal[0])
    except IntegrityError:
        # Two sellers registering the same id at once: the unique constraint decides.
        refusal = ("", TAKEN)
    raise ServiceError(refusal[1])


def _refusal(seller: User, account_ref: str, password: str) -> tuple[str, str] | None:
    if not seller.check_password(password or ""):
        return ("wrong password",
                "Your current password is not correct; the Stripe account was not changed.")
    taken = db.session.execute(select(ProviderAccount.user_id).where(
        ProviderAccount.account_ref == account_ref)).scalar_one_or_none()
    if taken is not None and taken != seller.id:
        # Never say whose it is: the id alone must not reveal another seller.
        return ("account of another seller", TAKEN)
    return None


def _save(seller_id: int, account_ref: str, transfers_active: bool,
          actor: Actor) -> ProviderAccount:
    row = stripe_account(seller_id)
    previous = row.account_ref if row else None
    if row is None:
        row = ProviderAccount(user_id=seller_id, provider=STRIPE, account_ref=account_ref)
        db.session.add(row)
    row.account_ref, row.payouts_enabled = account_ref, transfers_active
    db.session.flush()
    audit.record(actor, "provider_account.changed", f"user:{seller_id}", provider=STRIPE,
                 account=account_ref, previous=previous, transfers_active=transfers_active)
    return row
