"""Sellers' payout bank accounts: validated, sealed at rest, shown masked, changed with care.

The account number is validated (IBAN by schwifty, US accounts by the ABA routing checksum),
sealed with app.crypto, and never logged, flashed, audited or stored in the clear: the audit log
and every page see the last four characters only. Changing the account needs the password again.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from schwifty import IBAN
from schwifty import exceptions as iban_errors
from sqlalchemy import select

from app import crypto
from app.clock import now
from app.database import locked, unit_of_work
from app.extensions import db
from app.models import BankAccount, Role, User
from app.services import audit
from app.services.audit import Actor
from app.services.errors import NotFound, ServiceError

MASK = "••••"
_US_ACCOUNT = re.compile(r"^\d{4,17}$")
_ROUTING = re.compile(r"^\d{9}$")
_SEPARATORS = re.compile(r"[\s-]")
_IBAN_MESSAGES = (
    ((iban_errors.InvalidChecksumDigits, iban_errors.InvalidBBANChecksum),
     "That IBAN's check digits don't match: please check it for a typo."),
    ((iban_errors.InvalidCountryCode,), "That IBAN's country code isn't one we recognise."),
    ((iban_errors.InvalidLength,), "That IBAN has the wrong number of characters for its country."),
)


@dataclass(frozen=True)
class AccountOnFile:
    """What may be shown about a seller's current account."""

    kind: str
    holder_name: str
    country: str
    last4: str
    since: datetime

    @property
    def masked(self) -> str:
        """The account as people see it: "•••• 3000"."""
        return f"{MASK} {self.last4}"


class Revealed(NamedTuple):
    """A decrypted payout destination, in the provider contract's shape (see providers.base)."""

    destination: dict  # {"iban"} or {"account_number", "routing_number"}; never log it
    holder_name: str


class _Validated(NamedTuple):
    kind: str
    country: str
    destination: dict

    @property
    def last4(self) -> str:
        return (self.destination.get("iban") or self.destination["account_number"])[-4:]


def validated_iban(text: str) -> _Validated:
    """The IBAN destination, or ServiceError with a readable reason (never the IBAN itself)."""
    try:
        iban = IBAN(text)
    except iban_errors.SchwiftyException as exc:
        for kinds, message in _IBAN_MESSAGES:
            if isinstance(exc, kinds):
                raise ServiceError(message, field="iban") from None
        raise ServiceError("That is not a valid IBAN.", field="iban") from None
    return _Validated("iban", iban.country_code, {"iban": iban.compact})


def routing_checksum_ok(routing: str) -> bool:
    """The ABA check: 3·(d1+d4+d7) + 7·(d2+d5+d8) + (d3+d6+d9) is a multiple of 10."""
    d = [int(c) for c in routing]
    return (3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + d[2] + d[5] + d[8]) % 10 == 0


def validated_us_account(account_number: str, routing_number: str) -> _Validated:
    """The US destination, or ServiceError saying which number is wrong."""
    account = _SEPARATORS.sub("", account_number or "")
    routing = _SEPARATORS.sub("", routing_number or "")
    if not _ROUTING.match(routing):
        raise ServiceError("A routing number has exactly 9 digits.", field="routing_number")
    if not routing_checksum_ok(routing):
        raise ServiceError("That routing number's check digit doesn't match: "
                           "please check it for a typo.", field="routing_number")
    if not _US_ACCOUNT.match(account):
        raise ServiceError("An account number has 4 to 17 digits.", field="account_number")
    return _Validated("us_account", "US",
                      {"account_number": account, "routing_number": routing})


def _validated(iban: str | None, account_number: str | None,
               routing_number: str | None) -> _Validated:
    has_iban = bool((iban or "").strip())
    has_us = bool((account_number or "").strip() or (routing_number or "").strip())
    if has_iban == has_us:
        raise ServiceError("Give either an IBAN, or a US account number and routing number.")
    if has_iban:
        return validated_iban(iban)
    return validated_us_account(account_number, routing_number)


def _current(seller_id: int) -> BankAccount | None:
    return db.session.execute(
        select(BankAccount).where(BankAccount.seller_id == seller_id,
                                  BankAccount.replaced_at.is_(None))
    ).scalar_one_or_none()


def register_or_change(seller_id: int, password: str, holder_name: str, actor: Actor,
                       iban: str | None = None, account_number: str | None = None,
                       routing_number: str | None = None) -> int:
    """Set the seller's payout account after re-checking the password; returns the new row id."""
    holder_name = (holder_name or "").strip()
    if not holder_name:
        raise ServiceError("Give the account holder's name.", field="holder_name")
    if len(holder_name) > 120:
        raise ServiceError("The account holder's name is too long (120 characters at most).",
                           field="holder_name")
    valid = _validated(iban, account_number, routing_number)
    with unit_of_work():
        # Locking the seller serialises two changes of the same account.
        seller = locked(User, seller_id)
        if seller is None or not seller.has_role(Role.SELLER):
            raise NotFound("No such seller.")
        if seller.check_password(password or ""):
            return _replace_current(seller_id, holder_name, valid, actor)
        # The failed re-check is committed (guessing shows up in the log); nothing else changes.
        audit.record(actor, "bank_account.changed", f"user:{seller_id}", outcome="failure",
                     reason="wrong password")
    raise ServiceError("Your current password is not correct; the bank account was not changed.",
                       field="password")


def _replace_current(seller_id: int, holder_name: str, valid: _Validated, actor: Actor) -> int:
    previous = _current(seller_id)
    if previous is not None:
        previous.replaced_at = now()
        db.session.flush()  # the old row stops being current before the new one is inserted
    account = BankAccount(seller_id=seller_id, kind=valid.kind, holder_name=holder_name,
                          last4=valid.last4, country=valid.country)
    account.sealed = crypto.encrypt(json.dumps(valid.destination).encode(),
                                    account.associated_data())
    db.session.add(account)
    db.session.flush()
    audit.record(actor, "bank_account.changed", f"user:{seller_id}", kind=account.kind,
                 last4=account.last4, country=account.country, key_id=account.key_id,
                 replaced=previous.id if previous else None)
    return account.id


def current_account(seller_id: int) -> AccountOnFile | None:
    """What may be shown of the seller's current account, or None when there is none."""
    account = _current(seller_id)
    if account is None:
        return None
    return AccountOnFile(account.kind, account.holder_name, account.country, account.last4,
                         account.created_at)


def reveal_account(account_id: int, seller_id: int, actor: Actor) -> Revealed:
    """The decrypted destination of one (possibly since replaced) account of the seller: the
    one a payout was booked to; audit-logged. Same duties as reveal_destination."""
    with unit_of_work():
        account = db.session.get(BankAccount, account_id)
        if account is None or account.seller_id != seller_id:
            raise NotFound("No such bank account.")
        revealed = Revealed(json.loads(crypto.decrypt(account.sealed, account.associated_data())),
                            account.holder_name)
        audit.record(actor, "bank_account.decrypted", f"user:{seller_id}",
                     account=account.id, last4=account.last4)
    return revealed


def current_account_id(seller_id: int) -> int | None:
    """The id of the seller's current account (what a new payout is frozen to)."""
    account = _current(seller_id)
    return account.id if account is not None else None


def reveal_destination(seller_id: int, actor: Actor) -> Revealed:
    """The decrypted current destination and holder for paying the seller out; audit-logged.

    Only the payout job may call this; the result must never be logged, shown or stored.
    """
    with unit_of_work():
        account = _current(seller_id)
        if account is None:
            raise NotFound("The seller has no bank account on file.")
        revealed = Revealed(json.loads(crypto.decrypt(account.sealed, account.associated_data())),
                            account.holder_name)
        audit.record(actor, "bank_account.decrypted", f"user:{seller_id}",
                     account=account.id, last4=account.last4)
    return revealed
