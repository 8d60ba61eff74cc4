"""The vault: returning buyers' saved cards, as the PSP's token sealed at rest.

What is kept of a card is the PSP's reusable payment-method token (never the number or the CVC,
which only the PSP ever sees), display data (brand, last 4, expiry) and the platform's own keyed
fingerprint. The token and the display data are sealed together by app.crypto (a data key per
record, wrapped by the configured key-encrypting key); brand, last 4 and expiry are also kept in
the clear columns, in sync, so listing cards needs no decryption. Every decryption is recorded
in the audit log with who, which record and why. Sellers' bank details live in the same vault
(services.money.bank_accounts); `flask keys rotate` (services.security.key_rotation) re-wraps both.

The fingerprint is HMAC-SHA256 over "<provider>:<PSP fingerprint>" with a key derived by HKDF
from each configured ENCRYPTION_KEY (info "holdfast/vault-fingerprint/v1"): no extra secret to
manage, and it follows the encryption key's cryptoperiod. Saving looks a card up under the
current and the retired keys, and rotation recomputes it, so the same card stays one row.
"""
from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import date, datetime

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from sqlalchemy import select

from app import crypto
from app.clock import now
from app.database import locked, unit_of_work
from app.extensions import db
from app.models import SavedPaymentMethod, User
from app.services import audit
from app.services.audit import Actor
from app.services.errors import NotFound, ServiceError

MASK = "••••"
_FINGERPRINT_INFO = b"holdfast/vault-fingerprint/v1"
BRANDS = {"visa": "Visa", "mastercard": "Mastercard", "amex": "American Express",
          "discover": "Discover"}


@dataclass(frozen=True)
class MethodOnFile:
    """What may be shown of a saved card: never the token."""

    id: int
    provider: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    saved_at: datetime

    @property
    def label(self) -> str:
        """The card as people see it: "Visa •••• 4242 (12/29)"."""
        return (f"{BRANDS.get(self.brand, self.brand.title())} {MASK} {self.last4} "
                f"({self.exp_month:02d}/{self.exp_year % 100:02d})")

    @property
    def expired(self) -> bool:
        """True after the last day of the expiry month."""
        today = date.today()
        return (self.exp_year, self.exp_month) < (today.year, today.month)


def _secrets(config) -> list[str]:
    retired = config.get("ENCRYPTION_RETIRED_KEYS") or ""
    return [config["ENCRYPTION_KEY"], *(s.strip() for s in retired.split(",") if s.strip())]


def fingerprint_keys(config=None) -> list[bytes]:
    """The fingerprint keys of the configured secrets; the current one first."""
    config = config if config is not None else current_app.config
    return [HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                 info=_FINGERPRINT_INFO).derive(secret.encode()) for secret in _secrets(config)]


def fingerprint(provider: str, psp_fingerprint: str, key: bytes | None = None) -> str:
    """The platform's keyed fingerprint of a card (current key unless one is given)."""
    key = key if key is not None else fingerprint_keys()[0]
    return hmac.new(key, f"{provider}:{psp_fingerprint}".encode(), hashlib.sha256).hexdigest()


def _shown(row: SavedPaymentMethod) -> MethodOnFile:
    return MethodOnFile(row.id, row.provider, row.brand, row.last4, row.exp_month, row.exp_year,
                        row.created_at)


def _checked(token: str, brand: str, last4: str, exp_month: int, exp_year: int) -> None:
    # The PSP is trusted for these, but a malformed one must not reach a page or a column.
    if not token or len(token) > 255:
        raise ServiceError("The payment provider returned no usable card token.")
    if not (len(last4) == 4 and last4.isdigit()) or not 1 <= exp_month <= 12 \
            or not 2000 <= exp_year <= 2200 or not 0 < len(brand) <= 24:
        raise ServiceError("The payment provider returned card details we cannot show.")


def store(buyer_id: int, provider: str, token: str, brand: str, last4: str, exp_month: int,
          exp_year: int, psp_fingerprint: str, actor: Actor) -> int:
    """Save (or refresh) a card inside the caller's transaction; returns the row id."""
    _checked(token, brand, last4, exp_month, exp_year)
    locked(User, buyer_id)  # serialises two saves of one buyer's card
    prints = [fingerprint(provider, psp_fingerprint, key) for key in fingerprint_keys()]
    row = db.session.execute(
        select(SavedPaymentMethod).where(SavedPaymentMethod.buyer_id == buyer_id,
                                         SavedPaymentMethod.fingerprint.in_(prints),
                                         SavedPaymentMethod.revoked_at.is_(None))
    ).scalar_one_or_none()
    refreshed = row is not None
    if row is None:
        row = SavedPaymentMethod(buyer_id=buyer_id, provider=provider)
        db.session.add(row)
    row.brand, row.last4, row.exp_month, row.exp_year = brand, last4, exp_month, exp_year
    row.fingerprint = prints[0]
    payload = {"token": token, "brand": brand, "last4": last4, "exp_month": exp_month,
               "exp_year": exp_year, "psp_fingerprint": psp_fingerprint}
    row.sealed = crypto.encrypt(json.dumps(payload).encode(), row.associated_data())
    db.session.flush()
    audit.record(actor, "vault.method_saved", f"saved_payment_method:{row.id}",
                 owner=f"user:{buyer_id}", provider=provider, brand=brand, last4=last4,
                 refreshed=refreshed, key_id=row.key_id)
    return row.id


def save(buyer_id: int, provider: str, token: str, brand: str, last4: str, exp_month: int,
         exp_year: int, psp_fingerprint: str, actor: Actor) -> int:
    """Save a buyer's card in its own transaction; the same card twice stays one row."""
    with unit_of_work():
        return store(buyer_id, provider, token, brand, last4, exp_month, exp_year,
                     psp_fingerprint, actor)


def list_methods(buyer_id: int) -> list[MethodOnFile]:
    """The buyer's saved cards, newest first: display data only, nothing decrypted."""
    rows = db.session.execute(
        select(SavedPaymentMethod).where(SavedPaymentMethod.buyer_id == buyer_id,
                                         SavedPaymentMethod.revoked_at.is_(None))
        .order_by(SavedPaymentMethod.created_at.desc(), SavedPaymentMethod.id.desc())
    ).scalars().all()
    return [_shown(row) for row in rows]


def _live(method_id: int, buyer_id: int, lock: bool = False) -> SavedPaymentMethod | None:
    query = select(SavedPaymentMethod).where(SavedPaymentMethod.id == method_id)
    row = db.session.execute(query.with_for_update() if lock else query).scalar_one_or_none()
    if row is None or row.buyer_id != buyer_id or row.revoked_at is not None:
        return None
    return row


def get_method(method_id: int, buyer_id: int) -> MethodOnFile:
    """One of the buyer's own live cards; NotFound for another buyer's (never says which)."""
    row = _live(method_id, buyer_id)
    if row is None:
        raise NotFound("No such saved card.")
    return _shown(row)


def open_token(method_id: int, buyer_id: int, actor: Actor, reason: str) -> str:
    """Decrypt a buyer's own saved card's token for `reason`; audit-logged, even when refused.

    The token must only be passed to its provider: never logged, shown or stored elsewhere.
    """
    with unit_of_work():
        row = _live(method_id, buyer_id, lock=True)
        if row is not None:
            opened = json.loads(crypto.decrypt(row.sealed, row.associated_data()))
            audit.record(actor, "vault.decrypted", f"saved_payment_method:{row.id}",
                         owner=f"user:{buyer_id}", reason=reason, key_id=row.key_id)
            return opened["token"]
        # A refused attempt is committed too: probing for other buyers' cards shows up.
        audit.record(actor, "vault.decrypted", f"saved_payment_method:{method_id}",
                     outcome="failure", reason=reason, refused="not a live card of this buyer",
                     asked_for=f"user:{buyer_id}")
    raise NotFound("No such saved card.")


def revoke(method_id: int, buyer_id: int, actor: Actor) -> None:
    """Remove a buyer's own saved card: it is never offered or used again."""
    with unit_of_work():
        row = _live(method_id, buyer_id, lock=True)
        if row is None:
            raise NotFound("No such saved card.")
        row.revoked_at = now()
        audit.record(actor, "vault.method_revoked", f"saved_payment_method:{row.id}",
                     owner=f"user:{buyer_id}", brand=row.brand, last4=row.last4)


def refingerprint(row: SavedPaymentMethod, keyring: crypto.KeyRing) -> None:
    """Recompute a row's fingerprint under the current key (rotation; caller audits the batch)."""
    opened = json.loads(crypto.decrypt(row.sealed, row.associated_data(), keyring))
    row.fingerprint = fingerprint(row.provider, opened["psp_fingerprint"])
