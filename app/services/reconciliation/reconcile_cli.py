"""`flask reconcile`: import and match in this process, printing progress, then list what is
unresolved; the exit status is 1 while anything is (so cron or CI can alert on it)."""
from __future__ import annotations

import datetime as dt

from app.domain.money import Money, format_money
from app.domain.reconciliation import LABELS, DifferenceKind
from app.services.audit import Actor
from app.services.errors import ServiceError
from app.services.reconciliation import completion, differences, imports


def run(providers: tuple[str, ...], day: str | None, actor: Actor, echo) -> int:
    """The command's work; returns its exit status."""
    try:
        day = imports.parse_day(day or (imports.today() - dt.timedelta(days=1)).isoformat())
        names = list(providers) or imports.reporting_providers()
        for name in names:
            import_id = imports.request_import(name, day, actor, enqueue=False)
            echo(f"{name} {day}: importing")
            row = imports.run_import(import_id, progress=lambda r: echo(
                f"  {r.provider} {r.day}: {r.status}, page {r.pages}, "
                f"{r.lines_imported} new lines"))
            echo(f"{name} {day}: {row.status}")
    except ServiceError as exc:
        echo(f"error: {exc.message}", err=True)
        return 2
    completed = completion.complete_ready(actor)
    if completed:
        echo(f"completed payments: {', '.join(str(i) for i in completed)}")
    waiting = [d for d in differences.find() if d.kind in differences.WAITING]
    unresolved = [d for d in differences.find() if d.kind not in differences.WAITING]
    for diff in unresolved:
        echo(f"UNRESOLVED #{diff.id} {diff.provider} {diff.day} "
             f"{LABELS[DifferenceKind(diff.kind)]}: {diff.type} {diff.source} "
             f"PSP {_amount(diff.psp_net, diff.currency)} / ours "
             f"{_amount(diff.ledger_net, diff.currency)}", err=True)
    if waiting:
        echo(f"{len(waiting)} in transit (timing; they settle with a later report)")
    if unresolved:
        echo(f"{len(unresolved)} unresolved difference(s)", err=True)
        return 1
    echo("all reconciled: no unresolved differences")
    return 0


def _amount(value: int | None, currency: str) -> str:
    return "none" if value is None else format_money(Money(value, currency))
