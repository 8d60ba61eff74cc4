"""Support's blocklist, allowlist and watchlist: emails, email domains, card fingerprints,
devices, IP ranges and countries."""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from sqlalchemy import select

from app.database import unit_of_work
from app.extensions import db
from app.models.fraud import KINDS, LISTS, FraudListEntry
from app.services import audit
from app.services.audit import Actor
from app.services.errors import NotFound, ServiceError


@dataclass(frozen=True)
class Identity:
    """What identifies a payment attempt, as far as it is known at this stage."""

    email: str | None = None
    fingerprint: str | None = None
    device: str | None = None
    ip: str | None = None
    countries: tuple[str, ...] = ()    # the address's, the billing and the card's

    @property
    def email_domain(self) -> str | None:
        """The part after the @, lower case."""
        return self.email.rsplit("@", 1)[1].lower() if self.email and "@" in self.email else None


def normalise(kind: str, value: str) -> str:
    """The stored form of a value, or ServiceError saying what is wrong with it."""
    value = (value or "").strip()
    if kind not in KINDS:
        raise ServiceError(f"Choose one of: {', '.join(KINDS)}.")
    if not value:
        raise ServiceError("Enter a value.")
    if kind in ("email", "email_domain"):
        value = value.lower()
        if kind == "email" and "@" not in value:
            raise ServiceError("An email address needs an @.")
    elif kind == "ip_range":
        try:
            value = str(ipaddress.ip_network(value, strict=False))
        except ValueError:
            raise ServiceError("Enter an IP address or a range such as 203.0.113.0/24.") from None
    elif kind == "country":
        value = value.upper()
        if len(value) != 2 or not value.isalpha():
            raise ServiceError("Enter a two-letter country code such as FR.")
    return value[:254]


def add(list_name: str, kind: str, value: str, reason: str, actor: Actor,
        *, in_transaction: bool = False) -> FraudListEntry:
    """Put a value on a list (once); audited. `in_transaction`: the caller's unit of work."""
    if list_name not in LISTS:
        raise ServiceError(f"Choose one of: {', '.join(LISTS)}.")
    value = normalise(kind, value)

    def _add() -> FraudListEntry:
        found = db.session.execute(select(FraudListEntry).where(
            FraudListEntry.list == list_name, FraudListEntry.kind == kind,
            FraudListEntry.value == value)).scalar_one_or_none()
        if found is not None:
            return found
        entry = FraudListEntry(list=list_name, kind=kind, value=value, reason=reason[:255],
                               added_by=actor.label)
        db.session.add(entry)
        db.session.flush()
        audit.record(actor, "fraud.list_added", f"fraud_list:{entry.id}", list=list_name,
                     kind=kind, reason=reason[:255])
        return entry

    if in_transaction:
        return _add()
    with unit_of_work():
        return _add()


def remove(entry_id: int, actor: Actor) -> None:
    """Take an entry off its list; audited."""
    with unit_of_work():
        entry = db.session.get(FraudListEntry, entry_id)
        if entry is None:
            raise NotFound("No such list entry.")
        audit.record(actor, "fraud.list_removed", f"fraud_list:{entry.id}", list=entry.list,
                     kind=entry.kind)
        db.session.delete(entry)


def entries() -> list[FraudListEntry]:
    """Every entry, by list then newest first."""
    return db.session.execute(select(FraudListEntry).order_by(
        FraudListEntry.list, FraudListEntry.id.desc())).scalars().all()


def matches(identity: Identity) -> dict[str, list[str]]:
    """List name → what matched on it ("email", "ip_range 203.0.113.0/24", …)."""
    found: dict[str, list[str]] = {}
    exact = {"email": identity.email.lower() if identity.email else None,
             "email_domain": identity.email_domain, "fingerprint": identity.fingerprint,
             "device": identity.device}
    rows = db.session.execute(select(FraudListEntry)).scalars().all()
    address = _address(identity.ip)
    for row in rows:
        hit = False
        if row.kind in exact:
            hit = exact[row.kind] is not None and exact[row.kind] == row.value
        elif row.kind == "country":
            hit = row.value in identity.countries
        elif row.kind == "ip_range" and address is not None:
            network = ipaddress.ip_network(row.value)
            hit = address.version == network.version and address in network
        if hit:
            found.setdefault(row.list, []).append(f"{row.kind}" if row.kind in exact
                                                  else f"{row.kind} {row.value}")
    return found


def _address(ip: str | None):
    try:
        return ipaddress.ip_address(ip) if ip else None
    except ValueError:
        return None
