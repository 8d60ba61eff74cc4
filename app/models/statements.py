"""Seller statements: issued once per (seller, period, currency), frozen, signed, audited."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clock import now
from app.extensions import db


class SellerStatement(db.Model):
    """One statement: the seller's available-balance movements over a payout or a month."""

    __tablename__ = "seller_statements"
    __table_args__ = (UniqueConstraint("seller_id", "period", "currency",
                                       name="one_statement_per_period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    seller_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    period: Mapped[str] = mapped_column(String(32))   # "payout:12" or "month:2026-11"
    currency: Mapped[str] = mapped_column(String(3))
    payout_id: Mapped[int | None] = mapped_column(ForeignKey("payouts.id"))
    opening: Mapped[int]
    closing: Mapped[int]
    paid_out: Mapped[int]
    audit_id: Mapped[int | None]       # the audit record that logged the documents' hashes
    key_id: Mapped[str] = mapped_column(String(32))
    issued_at: Mapped[datetime] = mapped_column(default=now)

    documents = relationship("StatementDocument", back_populates="statement",
                             order_by="StatementDocument.id")


class StatementDocument(db.Model):
    """One rendering of a statement (html, csv, pdf): the exact bytes signed and served."""

    __tablename__ = "statement_documents"
    __table_args__ = (UniqueConstraint("statement_id", "format", name="one_document_per_format"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    statement_id: Mapped[int] = mapped_column(ForeignKey("seller_statements.id"), index=True)
    format: Mapped[str] = mapped_column(String(8))
    filename: Mapped[str] = mapped_column(String(120))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(Text)   # the signed manifest (JSON)

    statement = relationship("SellerStatement", back_populates="documents")
