"""Open escrow by capture day: a running roll-up of the held and frozen lines, per currency
and UTC day, so "escrow held by age" (services/reporting/dashboard.escrow) reads O(days) rows
rather than every open line (≈ 60,000 at a million orders: docs/performance.md, "Scale").

The upkeep is a flush hook, not a call in each service: a hold's open share (one line, its
amount not returned to the buyer) moves when it is created (capture, in `escrow` and
`cross_currency`), released, frozen or let go (no change: both open), refunded in part or in
full (`take_back`) or given back after a failed refund (`give_back`). Reading the share each
flush writes, before and after, catches every one of them and any path added later, in the
transaction that changed the hold, like `ledger_balances` for the legs. Core UPDATEs of
escrow_holds would bypass it: there are none, and `days_match_holds` (run after every test
with the ledger's invariants) says so if one appears.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date

from sqlalchemy import event, func, inspect, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.domain.escrow_states import EscrowStatus
from app.extensions import db
from app.models.escrow import EscrowHold, EscrowOpenDay

OPEN = frozenset({EscrowStatus.HELD.value, EscrowStatus.ON_HOLD.value})

Key = tuple[str, date]


def _share(status: str | None, gross: int | None, refunded: int | None) -> tuple[int, int]:
    """(lines, amount) a hold in this state adds to open escrow."""
    if status not in OPEN:
        return 0, 0
    return 1, (gross or 0) - (refunded or 0)


def _before(hold: EscrowHold) -> tuple[Key, tuple[int, int]] | None:
    """The hold's key and open share as the database had it before this flush."""
    state = inspect(hold)
    old = {}
    for name in ("status", "gross_amount", "refunded_amount", "currency", "created_at"):
        added, unchanged, deleted = state.attrs[name].history
        values = deleted or unchanged
        if not values:  # the model keeps active_history on what moves; anything else is loaded
            values = (getattr(hold, name),) if not added else ()
        if not values:
            raise RuntimeError(f"escrow hold {hold.id}: the {name} it had is unknown")
        old[name] = values[0]
    return ((old["currency"], old["created_at"].date()),
            _share(old["status"], old["gross_amount"], old["refunded_amount"]))


def _after(hold: EscrowHold) -> tuple[Key, tuple[int, int]]:
    return ((hold.currency, hold.created_at.date()),
            _share(hold.status, hold.gross_amount, hold.refunded_amount))


@event.listens_for(Session, "after_flush")
def _keep(session: Session, _context) -> None:
    """Add what this flush changed in open escrow to its days (the flush's transaction)."""
    moves: dict[Key, list[int]] = defaultdict(lambda: [0, 0])

    def add(found: tuple[Key, tuple[int, int]], sign: int) -> None:
        key, (lines, amount) = found
        moves[key][0] += sign * lines
        moves[key][1] += sign * amount

    for hold in session.new:
        if isinstance(hold, EscrowHold):
            add(_after(hold), 1)
    for hold in session.dirty:
        if isinstance(hold, EscrowHold) and session.is_modified(hold):
            add(_before(hold), -1)
            add(_after(hold), 1)
    for hold in session.deleted:
        if isinstance(hold, EscrowHold):
            add(_before(hold), -1)
    rows = [{"currency": c, "day": d, "lines": n, "amount": a}
            for (c, d), (n, a) in sorted(moves.items()) if n or a]
    if not rows:
        return
    # One upsert per day touched, in key order: two PostgreSQL transactions lock today's row
    # in the same order (as ledger.post does for the balances).
    connection = session.connection()
    upsert = (postgresql_insert if connection.dialect.name == "postgresql"
              else sqlite_insert)(EscrowOpenDay)
    connection.execute(upsert.on_conflict_do_update(
        index_elements=["currency", "day"],
        set_={"lines": EscrowOpenDay.lines + upsert.excluded.lines,
              "amount": EscrowOpenDay.amount + upsert.excluded.amount}), rows)


def by_day(currency: str) -> list[tuple[date, int, int]]:
    """(day, open lines, open amount) of one currency, the days that still hold something."""
    return [(d, int(n), int(a)) for d, n, a in db.session.execute(
        select(EscrowOpenDay.day, EscrowOpenDay.lines, EscrowOpenDay.amount)
        .where(EscrowOpenDay.currency == currency, EscrowOpenDay.lines != 0)
        .order_by(EscrowOpenDay.day)).all()]


def grouped_holds() -> dict[Key, tuple[int, int]]:
    """Open escrow grouped from the holds themselves (what the roll-up must equal)."""
    day = func.date(EscrowHold.created_at)
    rows = db.session.execute(
        select(EscrowHold.currency, day, func.count(),
               func.sum(EscrowHold.gross_amount - EscrowHold.refunded_amount))
        .where(EscrowHold.status.in_(OPEN)).group_by(EscrowHold.currency, day)).all()
    return {(c, d if isinstance(d, date) else date.fromisoformat(d)): (int(n), int(a))
            for c, d, n, a in rows}


def days_match_holds() -> list[str]:
    """The roll-up equals the open holds grouped by currency and capture day."""
    held = grouped_holds()
    kept = {(r.currency, r.day): (r.lines, r.amount)
            for r in db.session.execute(select(EscrowOpenDay)).scalars()}
    return [f"open escrow {c} {d}: roll-up {kept.get((c, d), (0, 0))} (lines, amount), "
            f"holds {held.get((c, d), (0, 0))}"
            for c, d in sorted(set(held) | set(kept))
            if held.get((c, d), (0, 0)) != kept.get((c, d), (0, 0))]
