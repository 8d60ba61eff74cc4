"""Dispute cases (buyer claims and PSP chargebacks), their timeline and evidence files.

One table for both kinds so support works them from one queue sorted by deadline; `status` holds
a ClaimStatus or a ChargebackStatus value according to `kind`, and changes only through
services.disputes.claims / services.disputes.chargebacks.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clock import now
from app.domain.dispute_states import CaseKind, ChargebackStatus, ClaimStatus
from app.domain.money import Money
from app.extensions import db


class DisputeCase(db.Model):
    """One claim or chargeback, with its deadline, assignee and outcome."""

    __tablename__ = "dispute_cases"
    __table_args__ = (UniqueConstraint("provider", "psp_reference", name="one_case_per_psp_dispute"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(12), index=True)      # CaseKind
    status: Mapped[str] = mapped_column(String(16), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    # A claim is about one line; a chargeback about the whole payment (NULL).
    order_line_id: Mapped[int | None] = mapped_column(ForeignKey("order_lines.id"), index=True)
    buyer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # The line's seller for a claim; NULL for a chargeback on an order of several sellers.
    seller_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    reason: Mapped[str] = mapped_column(String(40))   # ClaimReason, or the PSP's reason
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int]                               # claimed / disputed, minor units
    fee_amount: Mapped[int] = mapped_column(default=0)  # the PSP's dispute fee (chargebacks)
    # The next deadline: the seller's answer (claim) or the PSP's evidence due_by (chargeback).
    due_by: Mapped[datetime | None] = mapped_column(index=True)
    assigned_to: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    provider: Mapped[str | None] = mapped_column(String(32))
    psp_reference: Mapped[str | None] = mapped_column(String(64))
    resolution: Mapped[str | None] = mapped_column(String(16))  # Resolution
    liable: Mapped[str | None] = mapped_column(String(12))      # chargeback lost: seller|platform
    escalated_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=now, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)

    events = relationship("CaseEvent", order_by="CaseEvent.id", back_populates="case")
    files = relationship("EvidenceFile", order_by="EvidenceFile.id", back_populates="case")
    order = relationship("Order")
    payment = relationship("Payment")
    line = relationship("OrderLine")

    @property
    def state(self) -> ClaimStatus | ChargebackStatus:
        """The status as the domain enum of its kind."""
        return (ClaimStatus if self.kind == CaseKind.CLAIM.value else ChargebackStatus)(self.status)

    @property
    def total(self) -> Money:
        """The claimed or disputed amount, as Money."""
        return Money(self.amount, self.currency)


class CaseEvent(db.Model):
    """One entry on a case's timeline: a message, a note, a file, a status change, a PSP event,
    a ledger effect, an assignment or a decision. Append-only."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("dispute_cases.id"), index=True)
    # message | note | file | status | psp_event | ledger | assignment | decision | notification
    kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_role: Mapped[str] = mapped_column(String(12))  # buyer | seller | support | psp | system
    body: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[str] = mapped_column(Text, default="{}")  # JSON: amounts, statuses, ids
    internal: Mapped[bool] = mapped_column(default=False)  # support's notes: never shown to parties
    created_at: Mapped[datetime] = mapped_column(default=now)

    case = relationship("DisputeCase", back_populates="events")


class EvidenceFile(db.Model):
    """An uploaded file: stored outside static/ under a random name; the given name is only
    shown (escaped), never used as a path."""

    __tablename__ = "evidence_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("dispute_cases.id"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("case_events.id"))
    uploaded_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    uploader_role: Mapped[str] = mapped_column(String(12))
    display_name: Mapped[str] = mapped_column(String(120))  # cleaned; for display only
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)  # random token
    content_type: Mapped[str] = mapped_column(String(64))   # from the file's own bytes
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=now)

    case = relationship("DisputeCase", back_populates="files")
