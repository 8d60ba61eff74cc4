"""The PSP call log: one row per attempt of an outbound PSP call, whatever its outcome.

Written by `services/psp_calls.record` from the guard (`providers/resilience.py`), outside the
caller's transaction. It holds what support needs to see what we asked of a PSP and what came
back — never a request or response body, a card detail, a token or a secret. It has no foreign
keys on purpose: inserting a row must never wait for a lock the calling service holds on the
payment (PostgreSQL's FK check would take one), and retention deletes rows freely.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db


class PspCall(db.Model):
    """One attempt at one PSP call: what, about which object, how it ended and how long it took."""

    __tablename__ = "psp_calls"
    __table_args__ = (
        # A payment's (and a payout's) timeline reads its calls in order (migration 0031).
        Index("ix_psp_calls_payment_id", "payment_id", "id"),
        Index("ix_psp_calls_payout_id", "payout_id", "id"),
        Index("ix_psp_calls_at", "at"),  # retention deletes by age
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]                                   # when the attempt started (UTC)
    provider: Mapped[str] = mapped_column(String(16))      # the PSP: sandbox, stripe, braintree
    instance: Mapped[str] = mapped_column(String(32))      # its configured name: sandbox_us …
    operation: Mapped[str] = mapped_column(String(32))     # the contract method: capture …
    payment_id: Mapped[int | None]
    refund_id: Mapped[int | None]
    payout_id: Mapped[int | None]
    idempotency_key: Mapped[str | None] = mapped_column(String(100))
    attempt: Mapped[int] = mapped_column(SmallInteger)     # 1, 2, … within one guarded call
    # ok | http_error | rate_limited (the PSP's 429) | throttled (our own rate limit) | timeout
    # | connection_refused | connection_lost | circuit_open | refused (no HTTP status)
    # | unexpected_error (the adapter raised something it should have translated)
    outcome: Mapped[str] = mapped_column(String(24))
    http_status: Mapped[int | None] = mapped_column(SmallInteger)
    error_code: Mapped[str | None] = mapped_column(String(64))
    duration_ms: Mapped[int]
    psp_request_id: Mapped[str | None] = mapped_column(String(100))
    psp_object_id: Mapped[str | None] = mapped_column(String(100))
