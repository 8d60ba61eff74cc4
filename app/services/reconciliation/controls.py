"""A PSP's own control totals held against the lines it reported: Braintree's settlement batch
summary (count and amount settled per merchant account and kind) against the day's imported
transaction lines of the same account, currency and kind. When they disagree the report itself
is incomplete or wrong (a transaction the search missed, a page lost), so a difference is
raised about the report — before any line is trusted to match the ledger.

`fetch` calls the PSP (outside any transaction); `record` writes what differs (caller's unit of
work). A provider without control totals is skipped.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import func, select

from app.clock import now
from app.domain.reconciliation import DifferenceKind, DifferenceStatus, transition
from app.extensions import db
from app.models.reconciliation import Difference, SettlementLine
from app.providers.registry import get_provider
from app.services.reconciliation.sides import SUMMARY_TYPE

# A line's type as the summary's kind, and the sign the summary's (positive) amount takes.
KINDS = {"charge": ("sale", 1), "refund": ("credit", -1)}
SIGN = dict(KINDS.values())


@dataclass(frozen=True)
class Control:
    """One (account, currency, kind): what the PSP's summary says and what its lines add up
    to (counts, and signed amounts in minor units)."""

    account: str
    currency: str
    kind: str
    reported_count: int
    reported_amount: int
    lines_count: int
    lines_amount: int

    @property
    def agrees(self) -> bool:
        """The summary and the lines say the same."""
        return (self.reported_count, self.reported_amount) == (self.lines_count,
                                                                self.lines_amount)

    @property
    def source(self) -> str:
        """The difference's subject: "<account>:<currency>:<kind>"."""
        return f"{self.account}:{self.currency}:{self.kind}"


def line_totals(provider: str, day: str) -> dict[tuple[str, str, str], tuple[int, int]]:
    """The day's imported charge and refund lines per (account, currency, kind)."""
    rows = db.session.execute(
        select(SettlementLine.account, SettlementLine.currency, SettlementLine.type,
               func.count(), func.sum(SettlementLine.gross))
        .where(SettlementLine.provider == provider, SettlementLine.day == day,
               SettlementLine.type.in_(list(KINDS)))
        .group_by(SettlementLine.account, SettlementLine.currency, SettlementLine.type))
    return {(account or "", currency, KINDS[type_][0]): (int(n), int(amount))
            for account, currency, type_, n, amount in rows}


def fetch(provider: str, day: str) -> list[Control] | None:
    """The day's controls (None: the provider reports no control totals). Calls the PSP."""
    adapter = get_provider(provider)
    summary = getattr(getattr(adapter, "inner", adapter), "settlement_summary", None)
    if summary is None:
        return None
    lines = line_totals(provider, day)
    currency_of = {account: currency for account, currency, _ in lines}
    # The summary does not name currencies: each account's is the one its lines are in; an
    # account with no lines at all is read in the first of them (or the adapter's default).
    currencies = sorted(set(currency_of.values())) or [
        getattr(getattr(adapter, "inner", adapter), "currency", "EUR")]
    reported: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for currency in currencies:
        for record in summary(day, currency):
            account = str(record["merchant_account_id"])
            if currency_of.get(account, currencies[0]) != currency:
                continue
            kind = str(record["kind"])
            total = reported[(account, currency, kind)]
            total[0] += record["count"]
            total[1] += SIGN.get(kind, 1) * record["amount_settled"]
    return [Control(account, currency, kind, *reported.get((account, currency, kind), (0, 0)),
                    *lines.get((account, currency, kind), (0, 0)))
            for account, currency, kind in sorted(reported.keys() | lines.keys())]


def record(provider: str, day: str, controls: list[Control]) -> int:
    """Raise (or update) a difference for each control that disagrees and match the open ones
    that agree now (caller's transaction); how many disagree."""
    open_rows = {row.source: row for row in db.session.execute(select(Difference).where(
        Difference.provider == provider, Difference.type == SUMMARY_TYPE,
        Difference.day == day, Difference.status == DifferenceStatus.OPEN.value)).scalars()}
    wrong = 0
    for control in controls:
        existing = open_rows.get(control.source)
        if control.agrees:
            if existing is not None:
                existing.status = transition(DifferenceStatus.OPEN,
                                             DifferenceStatus.MATCHED).value
                existing.resolved_at = now()
                existing.resolution = "The PSP's summary and its lines agree now."
            continue
        wrong += 1
        note = (f"{control.kind} on {control.account}: the PSP's summary says "
                f"{control.reported_count} for {control.reported_amount}, its lines "
                f"{control.lines_count} for {control.lines_amount} ({control.currency} minor "
                "units).")
        values = {"kind": DifferenceKind.SUMMARY_MISMATCH.value, "currency": control.currency,
                  "psp_net": control.reported_amount, "ledger_net": control.lines_amount,
                  "psp_fee": None, "ledger_fee": None}
        if existing is not None:
            for name, value in values.items():
                setattr(existing, name, value)
            continue
        db.session.add(Difference(provider=provider, day=day, type=SUMMARY_TYPE,
                                  source=control.source, status=DifferenceStatus.OPEN.value,
                                  note=note, created_at=now(), **values))
    return wrong
