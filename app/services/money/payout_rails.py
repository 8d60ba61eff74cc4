"""Which rail pays a seller: configuration per seller, set by an admin, audited.

A rail is a configured provider that can pay a seller: a bank transfer through a sandbox
instance, a Stripe Connect transfer to the seller's connected account (and that account's
payout to its bank), or a Braintree credit to the seller's sub-merchant account (disbursed by
Braintree to its bank). No rail chosen: the seller's Stripe connected account when they have
one that takes transfers, else a bank transfer through the sandbox that holds the most of the
payout's currency. A provider this deployment has not configured pays nobody — in production
without the sandbox configured no payout goes through the simulator.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from app.database import locked, unit_of_work
from app.extensions import db
from app.models.escrow import PayoutSettings
from app.models.provider_accounts import ProviderAccount
from app.models.users import Role, User
from app.providers.registry import configured
from app.services import audit
from app.services.audit import Actor
from app.services.errors import NotFound, ServiceError
from app.services.money import bank_accounts, ledger

STRIPE, BRAINTREE = "stripe", "braintree"
SANDBOXES = ("sandbox", "sandbox_us")
RAILS = (*SANDBOXES, STRIPE, BRAINTREE)
NAMES = {"sandbox": "Bank transfer (sandbox)", "sandbox_us": "Bank transfer (sandbox US)",
         STRIPE: "Stripe Connect", BRAINTREE: "Braintree"}
# A Braintree merchant account id: letters, digits, "_" and "-" (Braintree's own rule).
BRAINTREE_ACCOUNT = frozenset("abcdefghijklmnopqrstuvwxyz"
                              "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


@dataclass(frozen=True)
class Destination:
    """Where a payout goes, frozen on the payout when it is booked."""

    provider: str
    last4: str
    bank_account_id: int | None = None
    account_ref: str | None = None   # Stripe connected account / Braintree merchant account


def chosen(seller_id: int) -> str | None:
    """The rail an admin chose for the seller (None: the default)."""
    return db.session.execute(select(PayoutSettings.provider).where(
        PayoutSettings.seller_id == seller_id)).scalar_one_or_none()


def provider_account(seller_id: int, provider: str) -> ProviderAccount | None:
    """The seller's account at a PSP (Stripe connected account, Braintree merchant account)."""
    return db.session.execute(select(ProviderAccount).where(
        ProviderAccount.user_id == seller_id, ProviderAccount.provider == provider)
    ).scalar_one_or_none()


def destination(seller_id: int, currency: str) -> Destination | None:
    """The seller's next payout's destination on their rail; None when it cannot pay them."""
    rail, available = chosen(seller_id), configured()
    if rail is None:
        connected = _on(STRIPE, seller_id, available)
        if connected is not None:
            return connected
        sandboxes = [name for name in SANDBOXES if name in available]
        if not sandboxes:
            return None
        # The sandbox already holding the money pays it: no funding transfer needed.
        rail = max(sandboxes, key=lambda name: (ledger.held_at_psp(name, currency),
                                                name == "sandbox"))
    if rail not in available:
        return None
    if rail in SANDBOXES:
        account = bank_accounts.current_account(seller_id)
        if account is None:
            return None
        return Destination(rail, account.last4, bank_accounts.current_account_id(seller_id))
    return _on(rail, seller_id, available)


def _on(rail: str, seller_id: int, available) -> Destination | None:
    if rail not in available:
        return None
    account = provider_account(seller_id, rail)
    if account is None or not account.payouts_enabled:
        return None
    return Destination(rail, account.account_ref[-4:], None, account.account_ref)


def set_rail(seller_id: int, rail: str | None, actor: Actor,
             account_ref: str | None = None) -> None:
    """An admin chooses the rail that pays a seller (None or "": back to the default). For
    Braintree the seller's sub-merchant account id comes with it."""
    rail = (rail or "").strip() or None
    account_ref = (account_ref or "").strip() or None
    if rail is not None and rail not in RAILS:
        raise ServiceError(f"Choose one of {', '.join(RAILS)}, or the default.")
    if rail is not None and rail not in configured():
        raise ServiceError(f"{NAMES[rail]} is not configured on this marketplace.")
    if rail == BRAINTREE and account_ref is not None and (
            len(account_ref) > 64 or not set(account_ref) <= BRAINTREE_ACCOUNT):
        raise ServiceError("A Braintree merchant account id has letters, digits, _ and - only.")
    from app.services.money.payouts import settings_for

    with unit_of_work():
        seller = locked(User, seller_id)
        if seller is None or not seller.has_role(Role.SELLER):
            raise NotFound("No such seller.")
        if rail == BRAINTREE:
            _braintree_account(seller_id, account_ref)
        settings = settings_for(seller_id)
        previous, settings.provider = settings.provider, rail
        audit.record(actor, "payout.rail_changed", f"user:{seller_id}", rail=rail or "default",
                     previous=previous or "default", account=account_ref)


def _braintree_account(seller_id: int, account_ref: str | None) -> None:
    row = provider_account(seller_id, BRAINTREE)
    if account_ref is None:
        if row is None:
            raise ServiceError("Give the seller's Braintree merchant account id.")
        return
    taken = db.session.execute(select(ProviderAccount.user_id).where(
        ProviderAccount.account_ref == account_ref)).scalar_one_or_none()
    if taken is not None and taken != seller_id:
        raise ServiceError("This merchant account belongs to another seller.")
    if row is None:
        row = ProviderAccount(user_id=seller_id, provider=BRAINTREE, account_ref=account_ref)
        db.session.add(row)
    # Braintree approves a sub-merchant before the admin registers it here.
    row.account_ref, row.payouts_enabled = account_ref, True


def describe(seller_id: int, currency: str = "EUR") -> str:
    """What the seller reads about who pays them."""
    where = destination(seller_id, currency)
    if where is None:
        rail = chosen(seller_id)
        return (f"{NAMES[rail]} — not available yet" if rail else
                "No payout method yet: add a bank account")
    return f"{NAMES[where.provider]} to …{where.last4}"


def rail_of(provider: str) -> str:
    """A payout's provider as the seller reads it."""
    return NAMES.get(provider, provider)



@dataclass(frozen=True)
class SellerRail:
    """One seller's rail as the admin page lists it."""

    seller_id: int
    email: str
    rail: str | None
    account_ref: str | None
    paid_by: str


def sellers(limit: int = 500) -> list[SellerRail]:
    """Every seller with the rail chosen for them and who pays them today, by email."""
    rows = db.session.execute(select(User).where(User.role == Role.SELLER.value)
                              .order_by(User.email).limit(limit)).scalars()
    found = []
    for user in rows:
        rail = chosen(user.id)
        account = provider_account(user.id, rail) if rail in (STRIPE, BRAINTREE) else None
        found.append(SellerRail(user.id, user.email, rail,
                                account.account_ref if account else None, describe(user.id)))
    return found


def seller_id_by_email(email: str) -> int:
    """A seller's id from their email (NotFound for anyone else)."""
    user = db.session.execute(select(User).where(
        User.email == (email or "").strip().lower())).scalar_one_or_none()
    if user is None or not user.has_role(Role.SELLER):
        raise NotFound("No seller has this email.")
    return user.id
