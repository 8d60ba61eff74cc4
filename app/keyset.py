"""Keyset (cursor) pagination, the one helper every list uses.

A page is "the next `size` rows after the last one shown" in a fixed total order (the sort
keys end with a unique column, usually the id), so a page costs an index range however deep
the reader goes, and rows written meanwhile never shift a page (OFFSET does both wrong).
The cursor is the last row's sort keys, opaque to the reader (base64 of JSON) and carried in
the URL beside the list's filters, so a page is a link that can be shared or reloaded.
"""
from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_

from app.extensions import db
from app.services.errors import ServiceError

CURSOR_ARG = "after"


@dataclass(frozen=True)
class Page:
    """One page of rows, and the cursor of the page after it (None: this is the last)."""

    rows: list
    next_cursor: str | None
    arg: str = CURSOR_ARG   # the query argument that carries the cursor (two lists, two args)

    def next_args(self, **filters) -> dict:
        """The query arguments of the next page: the filters plus the cursor."""
        return {**{k: v for k, v in filters.items() if v not in ("", None) and k != self.arg},
                self.arg: self.next_cursor}


def _encode_value(value: Any):
    return {"t": value.isoformat()} if isinstance(value, datetime) else value


def _decode_value(value: Any):
    if isinstance(value, dict) and set(value) == {"t"}:
        return datetime.fromisoformat(value["t"])
    if value is None or isinstance(value, (int, str, float)) and not isinstance(value, bool):
        return value
    raise ValueError("not a cursor value")


def encode(values: Sequence[Any]) -> str:
    """A cursor for a row's sort keys."""
    raw = json.dumps([_encode_value(v) for v in values], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(cursor: str, types: Sequence[type]) -> list:
    """The sort keys in a cursor, each of its key's type; ServiceError (400) for anything else
    (a hand-edited link, or another list's cursor)."""
    try:
        if len(cursor) > 512:
            raise ValueError("too long")
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
        if not isinstance(values, list) or len(values) != len(types):
            raise ValueError("wrong width")
        values = [_decode_value(v) for v in values]
        if not all(isinstance(v, t) and not isinstance(v, bool)
                   for v, t in zip(values, types, strict=True)):
            raise ValueError("wrong type")
        if any(isinstance(v, int) and not -2**63 <= v < 2**63 for v in values):
            raise ValueError("out of range")
        return values
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ServiceError("That page link is not valid; start from the first page.") from None


def cursor_arg(args, name: str = CURSOR_ARG) -> str | None:
    """The cursor in the query arguments, if any (checked when the page is read)."""
    return (args.get(name) or "").strip() or None


def _after(keys: Sequence, values: Sequence, descending: bool):
    """(k1, k2, …) strictly after (v1, v2, …) in the order, expanded so that it works on every
    engine and each branch is an index range."""
    branches = []
    for i, key in enumerate(keys):
        step = key < values[i] if descending else key > values[i]
        branches.append(and_(*[keys[j] == values[j] for j in range(i)], step))
    return or_(*branches)


def key_types(keys: Sequence) -> list[type]:
    """The Python type of each sort key's values (what a cursor may carry)."""
    found = []
    for key in keys:
        try:
            found.append(key.type.python_type)
        except NotImplementedError:
            found.append(object)
    return found


def paginate(query, keys: Sequence, cursor: str | None, size: int, *,
             descending: bool = True, key_of: Callable[[Any], Sequence] | None = None,
             scalars: bool = True, arg: str = CURSOR_ARG) -> Page:
    """Run `query` (a select without ORDER BY / LIMIT) one page at a time.

    `keys` are the sort expressions, the last one unique; `key_of(row)` reads them back from a
    row (default: the attributes named like the keys). Every key sorts the same way.
    """
    if cursor:
        query = query.where(_after(keys, decode(cursor, key_types(keys)), descending))
    query = query.order_by(*[k.desc() if descending else k.asc() for k in keys]).limit(size + 1)
    result = db.session.execute(query)
    rows = list(result.scalars() if scalars else result.all())
    more = len(rows) > size
    rows = rows[:size]
    if not more or not rows:
        return Page(rows, None, arg)
    read = key_of or (lambda row: [getattr(row, k.key) for k in keys])
    return Page(rows, encode(list(read(rows[-1]))), arg)
