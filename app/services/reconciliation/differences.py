"""The differences support and finance work through: list and filter, assign, annotate,
export, and resolve — where money really moved, with a correcting ledger posting made by the
service that owns that money (a refund through services/refunds, a returned payout through
services/money/payouts), else with a written reason. Every change is audited."""
from __future__ import annotations

import csv
import io

from sqlalchemy import func, select

from app.clock import now
from app.database import locked, unit_of_work
from app.domain import ledger as rules
from app.domain.reconciliation import LABELS, DifferenceKind, DifferenceStatus, transition
from app.extensions import db
from app.models import Payment, Payout, Refund, User
from app.models.ledger import LedgerTransaction
from app.models.reconciliation import Difference, ReconciliationPosting
from app.providers.registry import get_provider
from app.services import audit
from app.services.audit import Actor
from app.services.errors import Conflict, NotFound, ServiceError
from app.services.money import ledger
from app.services.money import payouts as payout_service
from app.services.reconciliation import matching
from app.services.refunds import refunds as refund_service

K = DifferenceKind
# Kinds that are waiting rather than wrong: they do not keep `flask reconcile` failing.
WAITING = frozenset({K.IN_TRANSIT.value})


def find(*, status: str | None = "open", kind: str | None = None, provider: str | None = None,
         day: str | None = None, assigned_to: int | None = None,
         limit: int = 500) -> list[Difference]:
    """Differences by the page's filters, oldest day first."""
    query = select(Difference).order_by(Difference.day, Difference.id).limit(limit)
    for column, value in ((Difference.status, status), (Difference.kind, kind),
                          (Difference.provider, provider), (Difference.day, day),
                          (Difference.assigned_to, assigned_to)):
        if value:
            query = query.where(column == value)
    return list(db.session.execute(query).scalars())


def unresolved_count() -> int:
    """Open differences that are not mere timing."""
    return db.session.execute(select(func.count()).select_from(Difference).where(
        Difference.status == DifferenceStatus.OPEN.value,
        Difference.kind.not_in(WAITING))).scalar_one()


def counts_by_kind() -> dict[str, int]:
    """Open differences per kind."""
    rows = db.session.execute(select(Difference.kind, func.count()).where(
        Difference.status == DifferenceStatus.OPEN.value).group_by(Difference.kind))
    return {kind: n for kind, n in rows}


def _open(difference_id: int) -> Difference:
    row = locked(Difference, difference_id)
    if row is None:
        raise NotFound("No such difference.")
    return row


def assign(difference_id: int, user_id: int | None, actor: Actor) -> None:
    """Give a difference to a staff member (or nobody)."""
    with unit_of_work():
        row = _open(difference_id)
        user = db.session.get(User, user_id) if user_id is not None else None
        if user_id is not None and (user is None or user.role not in ("support", "admin")):
            raise ServiceError("No such staff member.", field="assignee")
        row.assigned_to = user_id
        audit.record(actor, "reconciliation.assigned", f"difference:{row.id}", to=user_id)


def add_note(difference_id: int, text: str, actor: Actor) -> None:
    """Append a dated note."""
    text = (text or "").strip()
    if not text:
        raise ServiceError("Write the note first.", field="note")
    with unit_of_work():
        row = _open(difference_id)
        stamp = now().strftime("%Y-%m-%d %H:%M")
        row.note = f"{row.note}\n{stamp} {actor.label}: {text[:2000]}".strip()
        audit.record(actor, "reconciliation.noted", f"difference:{row.id}")


def correction_for(row: Difference) -> str | None:
    """What resolving posts, in words, or None when only a reason can resolve it."""
    if row.kind == K.MISSING_OURS.value and row.type == "refund":
        return "Book the PSP's refund in Holdfast (split over the lines by the refund policy)"
    if row.kind == K.MISSING_OURS.value and row.type in ("payout_failure", "payout"):
        return "Apply the PSP's payout status (a returned payout goes back to the seller)"
    if row.kind == K.MISSING_OURS.value and row.type == "refund_failure":
        return "Apply the refund's failure (the money is back; the lines get it again)"
    if row.kind == K.FEE_MISMATCH.value:
        return "Post the fee difference to PSP fees"
    if row.kind == K.UNKNOWN_OBJECT.value and row.type == "adjustment":
        return "Post the adjustment to PSP fees"
    return None


def resolve(difference_id: int, actor: Actor, *, correct: bool, reason: str) -> Difference:
    """Resolve a difference: `correct` posts the correction (correction_for), else the written
    reason is the resolution. Once only: a resolved difference refuses a second try."""
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError("Say why this difference is resolved.", field="reason")
    row = db.session.get(Difference, difference_id)
    if row is None:
        raise NotFound("No such difference.")
    if row.status != DifferenceStatus.OPEN.value:
        raise Conflict("This difference is already resolved.")
    txn_id = _correct(row, actor, reason) if correct else None
    if correct and txn_id is None:
        raise ServiceError("Nothing to post for this kind of difference; resolve it with a "
                           "reason instead.", field="reason")
    with unit_of_work():
        row = _open(difference_id)
        if row.status != DifferenceStatus.OPEN.value:
            raise Conflict("This difference is already resolved.")
        row.status = transition(DifferenceStatus(row.status), DifferenceStatus.RESOLVED).value
        row.resolution, row.resolved_by, row.resolved_at = reason[:2000], actor.user_id, now()
        row.correction_txn_id = txn_id
        if txn_id is not None:
            db.session.merge(ReconciliationPosting(transaction_id=txn_id, provider=row.provider,
                                                   day=row.day))
            # Match the day again: the lines that now agree are settled out of clearing, and a
            # correction that did not make them agree shows up as a new difference.
            matching.match_day(row.provider, row.day)
        audit.record(actor, "reconciliation.resolved", f"difference:{row.id}", kind=row.kind,
                     correction=txn_id, reason=reason[:200])
    return row


def _txn_id(intent: str) -> int | None:
    return db.session.execute(select(LedgerTransaction.id).where(
        LedgerTransaction.intent == intent)).scalar_one_or_none()


def _correct(row: Difference, actor: Actor, reason: str) -> int | None:
    """Post the correction through the service that owns the money; the ledger txn id."""
    provider = row.provider
    if row.kind == K.MISSING_OURS.value and row.type == "refund":
        payment = db.session.execute(select(Payment).where(
            Payment.provider == provider, Payment.psp_reference == row.payment)).scalar_one()
        report = get_provider(provider).retrieve_refund(row.source)
        refund = refund_service.book_made_at_psp(payment.id, report, actor, reason)
        return _txn_id(f"refund:{refund.id}")
    if row.kind == K.MISSING_OURS.value and row.type == "refund_failure":
        refund = db.session.execute(select(Refund).where(
            Refund.provider == provider, Refund.psp_reference == row.source)).scalar_one()
        refund_service.recheck(refund.id, actor)
        return _txn_id(f"refund_reversed:{refund.id}")
    if row.kind == K.MISSING_OURS.value and row.type in ("payout", "payout_failure"):
        payout = db.session.execute(select(Payout).where(
            Payout.provider == provider, Payout.psp_reference == row.source)).scalar_one()
        payout_service.refresh(payout.id, actor)
        step = "returned" if row.type == "payout_failure" else "paid"
        return _txn_id(f"payout:{step}:{payout.id}") or _txn_id(f"payout:failed:{payout.id}")
    if row.kind == K.FEE_MISMATCH.value:
        intent = f"psp_fee_corrected:{provider}:{row.source}"
        posting = rules.psp_fee_corrected(provider, row.currency, row.psp_fee - row.ledger_fee)
    elif row.kind == K.UNKNOWN_OBJECT.value and row.type == "adjustment":
        intent = f"psp_adjustment:{provider}:{row.source}"
        posting = rules.psp_adjustment(provider, row.currency, row.psp_net)
    else:
        return None
    with unit_of_work():
        ledger.post(posting, intent)
        audit.record(actor, "ledger.corrected", intent, reason=reason[:200])
    return _txn_id(intent)


EXPORT_COLUMNS = ("id", "provider", "day", "kind", "type", "source", "payment", "currency",
                  "psp_net", "psp_fee", "ledger_net", "ledger_fee", "status", "assigned_to",
                  "note", "resolution")


def export_csv(rows: list[Difference]) -> str:
    """The listed differences as CSV (amounts in minor units)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS + ("kind_label",))
    for row in rows:
        writer.writerow([_safe(getattr(row, c)) for c in EXPORT_COLUMNS]
                        + [LABELS[DifferenceKind(row.kind)]])
    return out.getvalue()


def _safe(value):
    # A cell starting with = + - @ runs as a formula in a spreadsheet: quote text ones.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return "" if value is None else value
