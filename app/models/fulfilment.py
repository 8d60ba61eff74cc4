"""Getting what was bought to the buyer: saved and per-order shipping addresses, shipments of
physical lines, and digital goods (licence-key pools, downloadable files, deliveries)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clock import now
from app.extensions import db
from app.models.sealed import SealedColumns


class AddressFields:
    """The postal fields every address carries (names follow Google's address data)."""

    name: Mapped[str] = mapped_column(String(120))
    street_address: Mapped[str] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(100), default="")
    city_area: Mapped[str] = mapped_column(String(100), default="")
    country_area: Mapped[str] = mapped_column(String(100), default="")   # state, province
    postal_code: Mapped[str] = mapped_column(String(20), default="")
    country_code: Mapped[str] = mapped_column(String(2))
    phone: Mapped[str] = mapped_column(String(40), default="")

    @property
    def lines(self) -> list[str]:
        """The address as the label on a parcel reads it."""
        place = " ".join(p for p in (self.postal_code, self.city) if p)
        return [p for p in (self.name, *self.street_address.splitlines(), self.city_area,
                            place, self.country_area, self.country_code) if p]


class Address(AddressFields, db.Model):
    """One of a buyer's saved addresses; a removed one keeps its row (orders copied it)."""

    __tablename__ = "addresses"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=now)
    removed_at: Mapped[datetime | None]


class OrderAddress(AddressFields, db.Model):
    """The address an order ships to, copied when the buyer chose it: editing or removing a
    saved address later never moves a parcel already on its way."""

    __tablename__ = "order_addresses"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), unique=True)
    address_id: Mapped[int | None] = mapped_column(ForeignKey("addresses.id"))
    chosen_at: Mapped[datetime] = mapped_column(default=now)


class Shipment(db.Model):
    """One physical order line on its way: carrier and tracking, shipped then delivered."""

    __tablename__ = "shipments"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id"), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    carrier: Mapped[str] = mapped_column(String(40))
    tracking_ref: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[str] = mapped_column(String(16))
    shipped_at: Mapped[datetime] = mapped_column(default=now)
    delivered_at: Mapped[datetime | None]

    line = relationship("OrderLine")


class LicenceKey(SealedColumns, db.Model):
    """One key of a seller's pool for an item, sealed at rest; assigned to one order line."""

    __tablename__ = "licence_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)   # available|assigned|revoked
    delivery_id: Mapped[int | None] = mapped_column(ForeignKey("digital_deliveries.id"),
                                                    index=True)
    # A digest, so the same key uploaded twice is refused without opening every sealed key.
    fingerprint: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime] = mapped_column(default=now)
    assigned_at: Mapped[datetime | None]

    def associated_data(self) -> bytes:
        """What the sealed key is bound to: its purpose and its item."""
        return f"licence_key:{self.item_id}".encode()


class DigitalFile(db.Model):
    """The file a download item delivers (kept in the database: small, backed up with it)."""

    __tablename__ = "digital_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), unique=True)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime] = mapped_column(default=now)


class DigitalDelivery(db.Model):
    """What a digital order line gave the buyer, and whether it still stands."""

    __tablename__ = "digital_deliveries"
    __table_args__ = (CheckConstraint("credit_units >= 0", name="credit_not_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id"), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    buyer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    kind: Mapped[str] = mapped_column(String(16))        # licence_key | download | store_credit
    status: Mapped[str] = mapped_column(String(16), index=True)
    credit_units: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=now)
    delivered_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoke_reason: Mapped[str | None] = mapped_column(String(200))

    line = relationship("OrderLine")
    keys = relationship("LicenceKey", order_by="LicenceKey.id")
