"""What the reconciliation page shows, read in a few queries: the differences by the filters
with who holds them, counts, clearing per day for the last two weeks, recent imports."""
from __future__ import annotations

import datetime as dt

from app.domain.reconciliation import LABELS, DifferenceKind
from app.extensions import db
from app.models.reconciliation import Difference
from app.services.reconciliation import clearing, differences, imports

DAYS = 14


def page(filters: dict, staff) -> dict:
    """The page's data (read-only)."""
    until = imports.today()
    rows = differences.find(**filters)
    per_day = clearing.per_day(until - dt.timedelta(days=DAYS - 1), until)
    return {"rows": rows, "labels": {k.value: v for k, v in LABELS.items()},
            "kinds": [k.value for k in DifferenceKind], "counts": differences.counts_by_kind(),
            "unresolved": differences.unresolved_count(),
            "staff": {u.id: u.display_name for u in staff},
            "clearing": per_day, "unsettled": clearing.unsettled_days(per_day),
            "days": [until - dt.timedelta(days=DAYS - 1 - i) for i in range(DAYS)],
            "imports": imports.latest(), "providers": imports.reporting_providers()}


def difference(difference_id: int) -> dict | None:
    """One difference with its label and what resolving it would post (None: not found)."""
    row = db.session.get(Difference, difference_id)
    if row is None:
        return None
    return {"row": row, "label": LABELS[DifferenceKind(row.kind)],
            "correction": differences.correction_for(row),
            "waiting": row.kind in differences.WAITING}
