"""Import one provider's settlement data of one UTC day, page by page, then match it.

Resumable: each page's lines and the cursor after them commit together, so a worker killed
mid-import resumes at the next page. Idempotent: a line is stored once per (provider,
reference), so importing a day again (the same report, or one that grew) adds only what is new
and the match finds the same differences. The PSP is called outside any transaction.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import insert, select

from app.clock import now, timestamp
from app.database import locked, unit_of_work
from app.extensions import db, queues
from app.models.reconciliation import SettlementImport, SettlementLine
from app.providers.registry import configured, get_provider
from app.services import audit
from app.services.audit import Actor
from app.services.errors import ServiceError
from app.services.reconciliation import controls, matching

FINISHED = ("done", "failed")
# A running import younger than this is left to its job; an older one is taken to be a job
# that died (a killed worker), and a new job resumes it from its cursor.
STALE_AFTER = dt.timedelta(minutes=15)


def parse_day(text: str | None) -> str:
    """A UTC date as YYYY-MM-DD, not in the future; ServiceError otherwise."""
    try:
        day = dt.date.fromisoformat((text or "").strip())
    except ValueError:
        raise ServiceError("Give the day as YYYY-MM-DD.") from None
    if day > today():
        raise ServiceError("That day has not happened yet.")
    return day.isoformat()


def today() -> dt.date:
    """Today in UTC, by the platform's clock."""
    return dt.datetime.fromtimestamp(timestamp(), dt.timezone.utc).date()


def reporting_providers() -> list[str]:
    """Configured providers whose adapter reports settlement data."""
    from app.providers.base import PaymentProvider

    names = []
    for name in sorted(configured()):
        adapter = get_provider(name)
        inner = getattr(adapter, "inner", adapter)
        if type(inner).settlement_page is not PaymentProvider.settlement_page:
            names.append(name)
    return names


def request_import(provider: str, day: str, actor: Actor, *, enqueue: bool = True) -> int:
    """Queue (or re-queue) the import of a provider's day; returns its id. A running import is
    left to finish; a finished one starts again from the first page (importing twice adds
    nothing, and finds what arrived since)."""
    if provider not in reporting_providers():
        raise ServiceError(f"{provider} is not a provider with settlement data here.")
    with unit_of_work():
        row = db.session.execute(select(SettlementImport).where(
            SettlementImport.provider == provider, SettlementImport.day == day)
            .with_for_update()).scalar_one_or_none()
        if row is None:
            row = SettlementImport(provider=provider, day=day, status="queued",
                                   lines_imported=0, pages=0)
            db.session.add(row)
        elif row.status in FINISHED:
            row.status, row.cursor, row.pages, row.error = "queued", None, 0, None
            row.lines_imported, row.started_at, row.finished_at = 0, now(), None
        elif row.started_at > now() - STALE_AFTER:
            enqueue = False  # its job is on it: a second one would only race it
        else:
            row.started_at = now()  # resumed from its cursor by the new job
        db.session.flush()
        audit.record(actor, "reconciliation.import_requested", f"settlement:{provider}:{day}")
        import_id = row.id
    if enqueue:
        queues.enqueue("app.jobs.reconciliation.import_day", import_id,
                       job_id=f"settlement-{provider}-{day}-{int(timestamp())}")
    return import_id


def run_import(import_id: int, progress=None) -> SettlementImport:
    """Fetch the remaining pages, store their lines, then match the day; `progress(row)` is
    called after each page (the CLI prints it)."""
    row = db.session.get(SettlementImport, import_id)
    if row is None:
        raise ServiceError("No such settlement import.")
    if row.status == "done":
        return row
    provider, day = row.provider, row.day
    with unit_of_work():
        locked(SettlementImport, import_id).status = "importing"
    adapter = get_provider(provider)
    cursor, first = row.cursor, True
    while first or cursor:
        first = False
        try:
            page = adapter.settlement_page(day, cursor)  # outside any transaction
        except Exception as exc:
            with unit_of_work():
                failed = locked(SettlementImport, import_id)
                failed.status, failed.error = "failed", str(exc)[:500]
            raise
        with unit_of_work():
            current = locked(SettlementImport, import_id)
            current.lines_imported += store_lines(provider, page.lines)
            current.pages += 1
            current.cursor = cursor = page.cursor
        if progress:
            progress(db.session.get(SettlementImport, import_id))
    try:
        checks = controls.fetch(provider, day)  # the PSP's own totals; outside any transaction
    except Exception as exc:
        with unit_of_work():
            failed = locked(SettlementImport, import_id)
            failed.status, failed.error = "failed", f"control totals: {exc}"[:500]
        raise
    with unit_of_work():
        current = locked(SettlementImport, import_id)
        current.status = "matching"
    with unit_of_work():
        if checks is not None:
            controls.record(provider, day, checks)
        result = matching.match_day(provider, day)
        current = locked(SettlementImport, import_id)
        current.status, current.finished_at = "done", now()
        audit.record(Actor("system:reconciliation", "worker"), "reconciliation.matched",
                     f"settlement:{provider}:{day}", objects=result.objects,
                     open=result.open_differences, settled=result.settled_lines)
    row = db.session.get(SettlementImport, import_id)
    if progress:
        progress(row)
    return row


def store_lines(provider: str, lines) -> int:
    """Insert the lines not stored yet (one lookup, one bulk insert); returns how many."""
    if not lines:
        return 0
    refs = [line.reference for line in lines]
    have = set(db.session.execute(select(SettlementLine.reference).where(
        SettlementLine.provider == provider, SettlementLine.reference.in_(refs))).scalars())
    fresh, seen = [], set()
    for line in lines:
        if line.reference in have or line.reference in seen:
            continue
        seen.add(line.reference)
        created = dt.datetime.fromtimestamp(line.created, dt.timezone.utc)
        fresh.append({"provider": provider, "reference": line.reference,
                      "day": created.date().isoformat(), "type": line.type,
                      "source": line.source or line.reference, "payment": line.payment,
                      "gross": line.gross, "fee": line.fee, "net": line.net,
                      "currency": line.currency, "created": line.created, "payout": line.payout,
                      "description": (line.description or "")[:500],
                      "account": line.account})
    if fresh:
        db.session.execute(insert(SettlementLine), fresh)
    return len(fresh)


def latest(provider: str | None = None, limit: int = 20) -> list[SettlementImport]:
    """The most recent imports, newest first."""
    query = select(SettlementImport).order_by(SettlementImport.day.desc(),
                                              SettlementImport.id.desc()).limit(limit)
    if provider:
        query = query.where(SettlementImport.provider == provider)
    return list(db.session.execute(query).scalars())


def get(import_id: int) -> SettlementImport | None:
    """One import, for its progress."""
    return db.session.get(SettlementImport, import_id)
