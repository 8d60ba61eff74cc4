"""What sellers offer and what buyers put in their carts."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clock import now
from app.domain.money import Money
from app.extensions import db


class Item(db.Model):
    """One listing: a price in one currency and a stock count."""

    __tablename__ = "items"
    __table_args__ = (
        CheckConstraint("price_amount > 0", name="price_positive"),
        CheckConstraint("stock >= 0", name="stock_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    title: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    price_amount: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    stock: Mapped[int] = mapped_column(default=0)
    # Platform fees may differ per category (seller_fee_rules).
    category: Mapped[str] = mapped_column(String(40), default="general")
    # What tax the sale takes in the buyer's country (app/domain/tax.CATEGORIES).
    tax_category: Mapped[str] = mapped_column(String(16), default="standard",
                                              server_default="standard")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=now)
    # How it reaches the buyer (issue 17): "physical" ships; the digital kinds are delivered
    # at capture (app/services/shop/digital.py); store credit grants credit_units per unit.
    fulfilment: Mapped[str] = mapped_column(String(16), default="physical",
                                            server_default="physical")
    credit_units: Mapped[int] = mapped_column(default=0, server_default="0")

    seller = relationship("User")

    @property
    def digital(self) -> bool:
        """Delivered at once on capture, never shipped."""
        return self.fulfilment != "physical"

    @property
    def price(self) -> Money:
        """The unit price as Money."""
        return Money(self.price_amount, self.currency)


class CartItem(db.Model):
    """A quantity of an item in a buyer's cart; prices are read from the catalogue at checkout."""

    __tablename__ = "cart_items"
    __table_args__ = (
        UniqueConstraint("buyer_id", "item_id", name="one_row_per_item"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    buyer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    quantity: Mapped[int]
    added_at: Mapped[datetime] = mapped_column(default=now)

    item = relationship("Item")


class ItemCategory(db.Model):
    """A category the admin defined; a seller files each item under one (fee rules key on it).
    "general" is built in and needs no row."""

    __tablename__ = "item_categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(40), unique=True)   # what items and fee rules store
    name: Mapped[str] = mapped_column(String(80))                 # what people read
    created_at: Mapped[datetime] = mapped_column(default=now)
