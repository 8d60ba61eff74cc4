"""Match one provider's day of settlement lines with the ledger, set-based: one grouped query
sums both sides per PSP object (the PSP's lines and our ledger, `scratch`), SQL picks the few
objects that do not agree, `domain.reconciliation.classify` names what differs in those, then the
differences and settlement postings are written in bulk — no query per line.

Runs inside the caller's unit of work; repeating it changes nothing (differences are updated
in place, settlement postings are once per intent).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, insert, select, update

from app.clock import now
from app.domain import ledger as rules
from app.domain.reconciliation import (
    DifferenceKind,
    DifferenceStatus,
    LedgerSide,
    PspSide,
    classify,
    transition,
)
from app.extensions import db
from app.models.ledger import LedgerTransaction
from app.models.payments import Payment
from app.models.payouts import Payout
from app.models.reconciliation import (
    Difference,
    ReconciliationPosting,
    SettlementImport,
    SettlementLine,
)
from app.services.money import ledger
from app.services.reconciliation import scratch

PAYOUT_TYPES = ("payout", "payout_failure")
PAYOUT_NOT_SETTLED = ("pending", "in_transit")  # the PSP took it; our payout waits for the bank


@dataclass(frozen=True)
class MatchResult:
    """What one match did: objects compared, differences open after it, lines settled."""

    objects: int
    open_differences: int
    settled_lines: int


def day_range(day: str) -> tuple[datetime, datetime]:
    """[start, end) of a UTC day, as the ledger's naive UTC datetimes."""
    start = datetime.strptime(day, "%Y-%m-%d")
    return start, start + timedelta(days=1)


def match_day(provider: str, day: str) -> MatchResult:
    """Compare the provider's objects touched by `day` and record what differs (caller's
    transaction)."""
    start, end = day_range(day)
    objects = scratch.fill(provider, day, start, end)
    try:
        _differing(provider, day)
        settled = settle_lines(provider, day)
    finally:
        scratch.clear()
    db.session.flush()
    still_open = db.session.execute(select(func.count()).select_from(Difference).where(
        Difference.provider == provider, Difference.status == "open")).scalar_one()
    return MatchResult(objects, still_open, settled)


def _differing(provider: str, day: str) -> int:
    """Classify the objects SQL did not find agreeing (and those with an open difference),
    write their differences, flag them so their lines stay in clearing; how many differ."""
    psp, mine, open_ids = {}, {}, {}
    for row in db.session.execute(scratch.disagreeing()):
        (type_, source, psp_present, n, gross, fee, net, c1, c2, pay_ref, first,
         ours_present, our_net, our_fee, o1, o2, open_id) = tuple(row)
        key = (type_, source)
        if psp_present is not None:
            psp[key] = (PspSide(int(n), int(gross), int(fee), int(net), frozenset({c1, c2})),
                        pay_ref, first)
        if ours_present is not None:
            mine[key] = LedgerSide(int(our_net), int(our_fee), frozenset({o1, o2}))
        if open_id is not None:
            open_ids[key] = open_id
    report_after = db.session.execute(select(SettlementImport.id).where(
        SettlementImport.provider == provider, SettlementImport.day > day,
        SettlementImport.status == "done").limit(1)).first() is not None
    known, pending = _known(provider, {k: v[1] for k, v in psp.items() if k not in mine})
    open_rows = {(d.type, d.source): d for d in db.session.execute(select(Difference).where(
        Difference.id.in_(list(open_ids.values())))).scalars()} if open_ids else {}
    # A person's reasoned decision stands: the same difference is not raised again.
    decided = _decided(provider, psp.keys() | mine.keys() | open_ids.keys())
    bad, fresh = [], []
    for key in psp.keys() | mine.keys() | open_ids.keys():
        type_, source = key
        side, pay_ref, first = psp.get(key, (None, None, None))
        kind = classify(type_, side, mine.get(key), known=key in known,
                        report_after_seen=report_after)
        if kind == DifferenceKind.MISSING_OURS and key in pending:
            kind = DifferenceKind.IN_TRANSIT
        existing = open_rows.get(key)
        if kind is None:
            if existing is not None:
                existing.status = transition(DifferenceStatus(existing.status),
                                             DifferenceStatus.MATCHED).value
                existing.resolved_at = now()
                existing.resolution = existing.resolution or "Both sides agree now."
            continue
        bad.append(key)
        values = _values(kind, side, mine.get(key), pay_ref)
        if existing is None and (type_, source, kind.value) in decided:
            continue
        if existing is not None:
            for name, value in values.items():
                setattr(existing, name, value)
        else:
            fresh.append({"provider": provider, "day": first or day, "type": type_,
                          "source": source, "status": DifferenceStatus.OPEN.value, "note": "",
                          "created_at": now(), **values})
    if fresh:
        db.session.execute(insert(Difference), fresh)
    scratch.mark_bad(bad)
    return len(bad)


def _decided(provider: str, keys) -> set[tuple[str, str, str]]:
    """(type, source, kind) of resolved differences about these keys (chunked lookups)."""
    sources = sorted({source for _, source in keys})
    found = set()
    for i in range(0, len(sources), 500):
        found.update((t, s, k) for t, s, k in db.session.execute(
            select(Difference.type, Difference.source, Difference.kind).where(
                Difference.provider == provider, Difference.source.in_(sources[i:i + 500]),
                Difference.status == DifferenceStatus.RESOLVED.value)))
    return {entry for entry in found if entry[:2] in keys}


def _values(kind, side, mine, pay_ref) -> dict:
    currencies = ((side.currencies if side else frozenset())
                  | (mine.currencies if mine else frozenset()))
    return {"kind": kind.value, "payment": pay_ref, "currency": min(currencies),
            "psp_net": side.net if side else None, "psp_fee": side.fee if side else None,
            "ledger_net": mine.net if mine else None, "ledger_fee": mine.fee if mine else None}


def _known(provider: str, keys: dict) -> tuple[set, set]:
    """Of PSP-only objects ({(type, source): PSP payment}): which are ours (their payment or
    payout is), and which of those are payouts our side has not settled yet (timing, not a
    miss). Chunked IN lookups, never one per object."""
    payments = {k: p for k, p in keys.items() if k[0] not in PAYOUT_TYPES and p}
    payouts = {k for k in keys if k[0] in PAYOUT_TYPES}
    wanted, ours = list(set(payments.values())), set()
    for i in range(0, len(wanted), 500):
        ours.update(db.session.execute(select(Payment.psp_reference).where(
            Payment.provider == provider, Payment.psp_reference.in_(wanted[i:i + 500])))
            .scalars())
    known = {k for k, p in payments.items() if p in ours}
    pending = set()
    sources = list({k[1] for k in payouts})
    for i in range(0, len(sources), 500):
        rows = db.session.execute(select(Payout.psp_reference, Payout.status).where(
            Payout.provider == provider, Payout.psp_reference.in_(sources[i:i + 500])))
        for reference, status in rows:
            for key in ((t, reference) for t in PAYOUT_TYPES):
                if key in payouts:
                    known.add(key)
                    if status in PAYOUT_NOT_SETTLED:
                        pending.add(key)
    return known, pending


def settle_lines(provider: str, day: str) -> int:
    """Post the net of the agreeing objects' lines not yet settled out of PSP clearing, one
    posting per (report day, currency), each recorded against its report day: grouped and
    marked in SQL, never line by line (the match's keys must be filled)."""
    settled = 0
    for line_day, currency, net, first_id, count in sorted(scratch.settle_groups(provider,
                                                                                 day)):
        if not net:
            continue  # nothing to move; the lines stay unsettled and cost nothing
        intent = f"settlement:{provider}:{line_day}:{currency}:{first_id}"
        ledger.post(rules.settled(provider, currency, int(net)), intent)
        txn_id = db.session.execute(select(LedgerTransaction.id).where(
            LedgerTransaction.intent == intent)).scalar_one()
        db.session.merge(ReconciliationPosting(transaction_id=txn_id, provider=provider,
                                               day=line_day))
        where = (scratch.day_lines(provider, day, currency) if line_day == day else
                 and_(SettlementLine.id.in_(scratch.other_lines(line_day, currency)),
                      SettlementLine.settlement_txn_id.is_(None)))
        marked = db.session.execute(
            update(SettlementLine).where(where).values(settlement_txn_id=txn_id)
            .execution_options(synchronize_session=False))
        settled += marked.rowcount
    return settled
