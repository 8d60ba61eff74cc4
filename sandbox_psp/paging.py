"""Stripe-style list pages: newest first, `limit` rows, and whether more follow."""
from .errors import invalid
from .models import db


def page(query, limit: int, model=None, starting_after: str | None = None,
         noun: str = "object") -> tuple[list, bool]:
    """(rows, has_more) of an ordered query; `starting_after` (an id of `model`) starts the page
    after that row, by its sequence number."""
    if starting_after:
        cursor = db.session.scalar(db.select(model).filter_by(id=starting_after))
        if cursor is None:
            raise invalid("starting_after", f"No such {noun}: '{starting_after}'",
                          "resource_missing")
        query = query.where(model.seq < cursor.seq)
    # One row more than asked tells whether another page follows.
    rows = list(db.session.scalars(query.limit(limit + 1)))
    return rows[:limit], len(rows) > limit
