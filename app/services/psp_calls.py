"""The PSP call log: every attempt of every outbound PSP call, for support and for retention.

`record` is the guard's journal (providers/resilience.py). It must never break the money path:
- one INSERT per attempt, on its own connection and transaction, so the row is there even when
  the caller's transaction rolls back, and the caller's transaction never carries it;
- when the calling session is inside a transaction, the attempt waits on the session and is
  written as soon as that transaction ends (commit, rollback or close). A service may hold
  SQLite's write lock there (a unit of work, or rows it changed), which our own INSERT would
  wait for until the busy timeout; services call PSPs between transactions, so the wait is
  short (unit_of_work ends a read snapshot before it writes, a request's session closes);
- which payment, refund or payout the call belongs to is looked up inside that same INSERT
  (scalar sub-selects on unique keys), never by a separate query;
- any failure to write is logged and swallowed;
- inside `with_the_answer` (checkout opening a PSP session), the attempts are instead inserted
  by the transaction that records the PSP's answer, just before it commits: one transaction
  per checkout fewer. Should that transaction roll back, or none come, they are written on
  their own when the block ends, as above. What this gives up: a process killed between the
  PSP's answer and that commit loses those log rows (the payment stays as it was before the
  call, and whatever asks the PSP about it next, a retry with the same key, is logged).
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import delete, event, func, insert, select
from sqlalchemy.orm import Session

from app import clock
from app.database import WRITE_OPTION, is_postgresql, unit_of_work
from app.extensions import db
from app.models import DisputeCase, Payment, Payout, Refund
from app.models.payouts import FundingTransfer
from app.models.psp_calls import PspCall
from app.providers.call_notes import Attempt

log = logging.getLogger(__name__)

PENDING = "holdfast_psp_calls_pending"  # session.info key: attempts waiting for its commit
# session.info: how many `with_the_answer` blocks are open, and the attempts the committing
# transaction inserted (given back to PENDING should its commit fail).
HOLD = "holdfast_psp_calls_hold"
INSERTED = "holdfast_psp_calls_inserted"
PRUNE_BATCH = 5_000

# Which kind of object each operation is about (the guard's method names).
PAYMENT_OPS = frozenset({"create_session", "retrieve", "find_by_reference", "authorize_saved",
                         "authorize_token", "authorize_nonce", "cancel", "capture", "void"})
REFUND_OPS = frozenset({"refund", "retrieve_refund"})
PAYOUT_OPS = frozenset({"create_payout", "retrieve_payout", "fund", "sweep"})
DISPUTE_OPS = frozenset({"retrieve_dispute", "submit_dispute_evidence"})


def record(attempt: Attempt) -> None:
    """Log one attempt; never raises (the PSP call it describes already happened)."""
    try:
        session = db.session()
        if session.in_transaction() or session.info.get(HOLD):
            session.info.setdefault(PENDING, []).append(attempt)
            return
        _write([attempt])
    except Exception:  # noqa: BLE001 — the log must not fail a payment
        log.warning("PSP call log: could not record %s.%s attempt %d (%s)", attempt.instance,
                    attempt.operation, attempt.attempt, attempt.outcome, exc_info=True)


def _write(attempts: list[Attempt]) -> None:
    with db.engine.begin() as connection:  # its own transaction, committed here
        for attempt in attempts:
            connection.execute(insert(PspCall).values(**_values(attempt)))


@contextmanager
def with_the_answer():
    """Attempts logged in this block are inserted by the next write transaction that commits
    in it (the one recording the PSP's answer) instead of by a transaction each; whatever is
    left when the block ends is written as usual. Blocks may nest (a fail-over)."""
    session = db.session()
    session.info[HOLD] = session.info.get(HOLD, 0) + 1
    try:
        yield
    finally:
        session.info[HOLD] -= 1
        if not session.info[HOLD]:
            del session.info[HOLD]
            if not session.in_transaction():  # else its end writes them (_flush_pending)
                _write_pending(session)


@event.listens_for(Session, "before_commit")
def _insert_with_the_answer(session: Session) -> None:
    """Inside `with_the_answer`, a write transaction about to commit carries the attempts."""
    pending = session.info.get(PENDING) if session.info.get(HOLD) else None
    if not pending:
        return
    connection = session.connection()
    if not connection.get_execution_options().get(WRITE_OPTION):
        return  # a read snapshot: never turned into a writer for the log's sake
    savepoint = None
    try:
        # On PostgreSQL a failed statement aborts the whole transaction: a savepoint keeps
        # the answer's commit safe from the log. SQLite's transaction survives a failed one.
        savepoint = connection.begin_nested() if is_postgresql() else None
        for attempt in pending:  # values hold sub-selects: one INSERT each, no executemany
            connection.execute(insert(PspCall).values(**_values(attempt)))
        if savepoint is not None:
            savepoint.commit()
    except Exception:  # noqa: BLE001 — the log must not fail a payment
        if savepoint is not None:
            savepoint.rollback()
        log.warning("PSP call log: could not insert %d attempt(s) with the answer; written "
                    "on their own instead", len(pending), exc_info=True)
        return
    session.info[INSERTED] = session.info.pop(PENDING)


@event.listens_for(Session, "after_commit")
def _inserted(session: Session) -> None:
    session.info.pop(INSERTED, None)


@event.listens_for(Session, "after_rollback")
def _not_inserted(session: Session) -> None:
    """The commit that carried attempts failed: they wait again (the block's end writes them)."""
    rolled_back = session.info.pop(INSERTED, None)
    if rolled_back:
        session.info.setdefault(PENDING, [])[:0] = rolled_back


@event.listens_for(Session, "after_transaction_end")
def _flush_pending(session: Session, transaction) -> None:
    """Write what waited for the caller's transaction, however it ended (its connection is
    already given back: this runs after the commit or rollback); inside `with_the_answer`,
    they wait on for the answer's transaction."""
    if transaction.parent is not None or session.info.get(HOLD):
        return
    _write_pending(session)


def _write_pending(session: Session) -> None:
    pending = session.info.pop(PENDING, None)
    if not pending:
        return
    try:
        _write(pending)
    except Exception:  # noqa: BLE001
        log.warning("PSP call log: could not record %d attempt(s) after the transaction",
                    len(pending), exc_info=True)


def _first(*candidates):
    """The first of some scalar sub-selects that finds a row (None when none is given)."""
    found = [c.limit(1).scalar_subquery() for c in candidates if c is not None]
    if not found:
        return None
    return found[0] if len(found) == 1 else func.coalesce(*found)


def _values(a: Attempt) -> dict:
    key, ref, op = a.idempotency_key, a.reference, a.operation
    # A payment's action keys are its own key plus ":capture", ":expire", …
    root = key.split(":", 1)[0] if key else None
    payment_by_key = select(Payment.id).where(Payment.idempotency_key == root) if root else None
    payment_by_ref = select(Payment.id).where(Payment.provider == a.instance,
                                              Payment.psp_reference == ref) if ref else None
    payment_id = refund_id = payout_id = None
    if op in PAYMENT_OPS:
        payment_id = _first(payment_by_key, payment_by_ref)
    elif op in REFUND_OPS:
        refund_by_key = select(Refund.id).where(Refund.idempotency_key == key) if key else None
        refund_by_ref = select(Refund.id).where(Refund.provider == a.instance,
                                                Refund.psp_reference == ref) if ref else None
        refund_id = _first(refund_by_key, refund_by_ref)
        payment_id = _first(
            select(Refund.payment_id).where(Refund.idempotency_key == key) if key else None,
            select(Refund.payment_id).where(Refund.provider == a.instance,
                                            Refund.psp_reference == ref) if ref else None,
            payment_by_ref, payment_by_key)  # refund(payment's reference) / a give-back
    elif op in PAYOUT_OPS:
        payout_id = _first(
            select(Payout.id).where(Payout.idempotency_key == key) if key else None,
            # A sweep's key is its funding's + "-sweep[n]" (services/money/payout_funding).
            select(FundingTransfer.payout_id).where(
                FundingTransfer.idempotency_key == key.split("-sweep")[0]) if key else None,
            select(Payout.id).where(Payout.psp_reference == ref) if ref else None)
    elif op in DISPUTE_OPS and ref:
        payment_id = _first(select(DisputeCase.payment_id).where(
            DisputeCase.provider == a.instance, DisputeCase.psp_reference == ref))
    return {
        "at": datetime.fromtimestamp(a.started_at, UTC).replace(tzinfo=None),
        "provider": a.provider[:16], "instance": a.instance[:32], "operation": op[:32],
        "payment_id": payment_id, "refund_id": refund_id, "payout_id": payout_id,
        "idempotency_key": key, "attempt": min(a.attempt, 32_000), "outcome": a.outcome,
        "http_status": a.http_status, "error_code": a.error_code,
        "duration_ms": max(0, a.duration_ms), "psp_request_id": a.psp_request_id,
        "psp_object_id": a.psp_object_id,
    }


def for_payment(payment_id: int, limit: int = 500) -> list[PspCall]:
    """A payment's calls (its refunds' and disputes' included), oldest first."""
    return list(db.session.execute(
        select(PspCall).where(PspCall.payment_id == payment_id)
        .order_by(PspCall.id).limit(limit)).scalars())


def prune(days: int | None = None, batch: int = PRUNE_BATCH) -> int:
    """Delete rows older than `days` (PSP_CALL_LOG_DAYS), a batch per transaction so no
    writer waits long; returns how many went."""
    days = int(current_app.config.get("PSP_CALL_LOG_DAYS", 90) if days is None else days)
    cutoff = clock.now() - timedelta(days=days)
    removed = 0
    while True:
        with unit_of_work() as session:
            oldest = select(PspCall.id).where(PspCall.at < cutoff).order_by(PspCall.id) \
                .limit(batch)
            gone = session.execute(delete(PspCall).where(PspCall.id.in_(oldest))
                                   .execution_options(synchronize_session=False)).rowcount
        removed += gone
        if gone < batch:
            return removed
