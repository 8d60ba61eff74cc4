"""Escrow per order line, sellers' fee rules and payout schedules."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint, func, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clock import now
from app.domain.escrow_states import EscrowStatus
from app.domain.money import Money
from app.extensions import db


class EscrowHold(db.Model):
    """The captured share of one order line, held until released to its seller."""

    __tablename__ = "escrow_holds"
    __table_args__ = (
        CheckConstraint("fee_amount >= 0 AND fee_amount <= gross_amount", name="fee_within_gross"),
        CheckConstraint("refunded_amount >= 0 AND refunded_amount <= gross_amount",
                        name="refunded_within_gross"),
        CheckConstraint("fee_returned >= 0 AND fee_returned <= fee_amount",
                        name="fee_returned_within_fee"),
        Index("ix_escrow_holds_created_at", "created_at"),  # the dashboard's date ranges
        # No index for open escrow by age: the dashboard reads escrow_open_days (0048 dropped
        # the covering ix_escrow_holds_open that every hold's write paid for).
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id"), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    gross_amount: Mapped[int]          # the line's share of the captured amount
    fee_amount: Mapped[int]            # the platform's fee, fixed at capture
    # What left this line to the buyer (refunds, chargebacks lost by the seller) and the part
    # of the platform fee returned with it: a release pays only what remains.
    # active_history: the open-escrow roll-up (services/money/escrow_open) needs the value a
    # change replaced even when the row was expired since it was read.
    refunded_amount: Mapped[int] = mapped_column(default=0, server_default="0",
                                                 active_history=True)
    fee_returned: Mapped[int] = mapped_column(default=0, server_default="0")
    status: Mapped[str] = mapped_column(String(16), default=EscrowStatus.HELD.value, index=True,
                                        active_history=True)
    shipped_at: Mapped[datetime | None]
    tracking_ref: Mapped[str | None] = mapped_column(String(64))
    release_due_at: Mapped[datetime | None] = mapped_column(index=True)
    released_at: Mapped[datetime | None]
    released_by: Mapped[str | None] = mapped_column(String(64))  # buyer | timer | support
    created_at: Mapped[datetime] = mapped_column(default=now)

    line = relationship("OrderLine")
    order = relationship("Order")

    @property
    def state(self) -> EscrowStatus:
        """The status as the domain enum."""
        return EscrowStatus(self.status)

    @property
    def remaining(self) -> int:
        """The line's money not (yet) returned to the buyer."""
        return self.gross_amount - self.refunded_amount

    @property
    def fee_remaining(self) -> int:
        """The platform's fee on what remains."""
        return self.fee_amount - self.fee_returned

    @property
    def net(self) -> Money:
        """What the seller receives on release (of what remains after refunds)."""
        return Money(self.remaining - self.fee_remaining, self.currency)


class EscrowOpenDay(db.Model):
    """Open escrow (held or on hold) by the UTC day its lines were captured, per currency: the
    admin dashboard's "escrow held by age" reads O(days) rows instead of every open line.
    Kept in the transaction of every change to a hold (services/money/escrow_open); the
    invariant `escrow_open.days_match_holds` asserts it equals the grouped holds."""

    __tablename__ = "escrow_open_days"

    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    lines: Mapped[int]
    amount: Mapped[int] = mapped_column(db.BigInteger().with_variant(db.Integer(), "sqlite"))


class SellerFeeRule(db.Model):
    """A platform fee rule set by an admin: for one seller (seller_id) or every seller (NULL),
    for one category or for everything (NULL). The most specific rule applies
    (domain/fees.choose_rule); it is copied onto each order line when the order is placed."""

    __tablename__ = "seller_fee_rules"
    __table_args__ = (UniqueConstraint("seller_id", "category", name="one_rule_per_category"),
                      # NULLs are distinct in a unique constraint: this one also keeps a
                      # single rule per category for every seller, and one platform-wide rule.
                      Index("uq_seller_fee_rules_scope", func.coalesce(text("seller_id"), 0),
                            func.coalesce(text("category"), ""), unique=True),
                      CheckConstraint("bps >= 0 AND bps <= 10000 AND fixed_amount >= 0 "
                                      "AND minimum_amount >= 0", name="fee_rule_sane"))

    id: Mapped[int] = mapped_column(primary_key=True)
    seller_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    category: Mapped[str | None] = mapped_column(String(40))
    bps: Mapped[int]
    fixed_amount: Mapped[int] = mapped_column(default=0)
    minimum_amount: Mapped[int] = mapped_column(default=0, server_default="0")
    maximum_amount: Mapped[int | None]
    updated_at: Mapped[datetime | None] = mapped_column(default=now, onupdate=now)


class PayoutSettings(db.Model):
    """How often a seller is paid out, and the smallest payout worth sending."""

    __tablename__ = "payout_settings"

    seller_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    schedule: Mapped[str] = mapped_column(String(8), default="daily")  # daily | weekly | manual
    weekday: Mapped[int] = mapped_column(default=0)                     # weekly: 0 = Monday
    minimum_amount: Mapped[int] = mapped_column(default=100)
    last_run_on: Mapped[date | None]  # a daily schedule pays at most once per calendar day
    # Locked by every payout run for this seller, so two runs can never both pay.
    version: Mapped[int] = mapped_column(default=0)
    # The rail that pays this seller (docs/money.md "Payout rails"), set by an admin; None:
    # the default (their Stripe connected account if they have one, else a bank transfer
    # through the sandbox that holds the money).
    provider: Mapped[str | None] = mapped_column(String(32))
