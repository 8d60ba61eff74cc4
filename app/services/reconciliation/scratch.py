"""One match's working tables and the few set-based statements over them (used by `matching`).

`recon_keys` holds one row per PSP object a day's match looks at (the day's lines' objects,
those our ledger moved that day, those with an open difference), with both sides summed:
filled by ONE grouped INSERT … SELECT over a UNION ALL of the day's lines, our side
(`sides.ledger_objects`, never written to a table of its own) and the open differences. A key's
lines of other days (rare: a re-rated fee, a duplicate) are copied to `recon_other` by index
probes and folded into its sums. Disagreeing keys are then a scan of `recon_keys` with
`sides.agrees`; only they reach Python. Settling is a grouped SELECT and an UPDATE per
(day, currency), the disagreeing keys excluded through the small `recon_bad`.

Temporary tables: private to the connection, emptied before and after each match.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    case,
    func,
    insert,
    literal_column,
    not_,
    or_,
    select,
    text,
    union_all,
)

from app.extensions import db
from app.services.reconciliation.sides import (
    SUMMARY_TYPE,
    WINDOW,
    agrees,
    dif,
    ledger_objects,
    line_type,
    sl,
    typed_null,
)

_tables = MetaData()
# Per key: the PSP's presence (p), own-type line count (n), sums, currencies (min, max), the
# payment it names and its first day; ours (o: presence, net, fee, currencies); the open
# difference about it (open_id); `touched`: the day's match looks at it.
KEYS = Table("recon_keys", _tables, Column("type", String(20), primary_key=True),
             Column("ref", String(64), primary_key=True), Column("p", Integer),
             Column("n", BigInteger), Column("gross", BigInteger), Column("fee", BigInteger),
             Column("net", BigInteger), Column("c1", String(3)), Column("c2", String(3)),
             Column("payment", String(64)), Column("first_day", String(10)), Column("o", Integer),
             Column("onet", BigInteger), Column("ofee", BigInteger), Column("o1", String(3)),
             Column("o2", String(3)), Column("open_id", Integer), prefixes=["TEMPORARY"])
OTHER = Table("recon_other", _tables, Column("id", BigInteger), Column("type", String(20)),
              Column("ref", String(64)), Column("own", Integer), Column("gross", BigInteger),
              Column("fee", BigInteger), Column("net", BigInteger), Column("currency", String(3)),
              Column("payment", String(64)), Column("day", String(10)),
              prefixes=["TEMPORARY"])
BAD = Table("recon_bad", _tables, Column("type", String(20), primary_key=True),
            Column("ref", String(64), primary_key=True), prefixes=["TEMPORARY"])
DDL = (
    "CREATE TEMPORARY TABLE IF NOT EXISTS recon_keys (type VARCHAR(20) NOT NULL, "
    "ref VARCHAR(64) NOT NULL, p INTEGER, n BIGINT, gross BIGINT, fee BIGINT, net BIGINT, "
    "c1 VARCHAR(3), c2 VARCHAR(3), payment VARCHAR(64), first_day VARCHAR(10), o INTEGER, "
    "onet BIGINT, ofee BIGINT, o1 VARCHAR(3), o2 VARCHAR(3), open_id INTEGER, "
    "PRIMARY KEY (type, ref))",
    "CREATE TEMPORARY TABLE IF NOT EXISTS recon_other (id BIGINT, type VARCHAR(20), "
    "ref VARCHAR(64), own INTEGER, gross BIGINT, fee BIGINT, net BIGINT, currency VARCHAR(3), "
    "payment VARCHAR(64), day VARCHAR(10))",
    "CREATE TEMPORARY TABLE IF NOT EXISTS recon_bad (type VARCHAR(20) NOT NULL, "
    "ref VARCHAR(64) NOT NULL, PRIMARY KEY (type, ref))",
)
SCRATCH = (KEYS, OTHER, BAD)


def fill(provider: str, day: str, start: datetime, end: datetime) -> int:
    """Fill `recon_keys` (both sides summed per key) and `recon_other`; how many keys."""
    session = db.session
    for statement in DDL:
        session.execute(text(statement))
    clear()
    keys = session.execute(insert(KEYS).from_select(
        [c.name for c in KEYS.c], _grouped(provider, day, start, end),
        include_defaults=False)).rowcount
    kind = line_type()
    others = session.execute(insert(OTHER).from_select(
        [c.name for c in OTHER.c],
        select(sl.c.id, kind, sl.c.source, case((sl.c.type == kind, 1), else_=0), sl.c.gross,
               sl.c.fee, sl.c.net, sl.c.currency, sl.c.payment, sl.c.day)
        # By the (provider, source) index, one probe per key: never a scan of every day.
        .where(sl.c.provider == provider, sl.c.source.in_(select(KEYS.c.ref)),
               sl.c.day != day)
        .join(KEYS, and_(KEYS.c.type == kind, KEYS.c.ref == sl.c.source)))).rowcount
    if others:
        _fold_other()
    if session.get_bind().dialect.name == "postgresql":
        # Autovacuum never analyzes temporary tables: without this the planner guesses.
        session.execute(text("ANALYZE recon_keys"))
    return keys


def _grouped(provider: str, day: str, start: datetime, end: datetime):
    """Both sides per key in one pass: the day's lines, our side over the window and the open
    differences, grouped once; only the keys the day touches."""
    ours = ledger_objects(provider, start - WINDOW)
    kind = line_type()
    none_i, none_b, none_s = typed_null(Integer), typed_null(BigInteger), typed_null(String)
    one = literal_column("1")
    rows = union_all(
        select(kind.label("type"), sl.c.source.label("ref"), one.label("p"),
               case((sl.c.type == kind, 1), else_=0).label("n"), sl.c.gross, sl.c.fee,
               sl.c.net, sl.c.currency.label("pc"), sl.c.payment, sl.c.day,
               none_i.label("o"), none_b.label("onet"), none_b.label("ofee"),
               none_s.label("oc"), none_i.label("k"), one.label("touched"))
        .where(sl.c.provider == provider, sl.c.day == day),
        select(ours.c.type, ours.c.ref, none_i, none_i, none_b, none_b, none_b, none_s, none_s,
               none_s, one, ours.c.net, ours.c.fee, ours.c.currency, none_i,
               case((and_(ours.c.created_at >= start, ours.c.created_at < end), 1), else_=0))
        .where(ours.c.ref.is_not(None)),
        select(dif.c.type, dif.c.source, none_i, none_i, none_b, none_b, none_b, none_s, none_s,
               none_s, none_i, none_b, none_b, none_s, dif.c.id, one)
        .where(dif.c.provider == provider, dif.c.status == "open",
               dif.c.type != SUMMARY_TYPE)).subquery("rows")
    c = rows.c
    return (select(c.type, c.ref, func.max(c.p), func.sum(c.n), func.sum(c.gross),
                   func.sum(c.fee), func.sum(c.net), func.min(c.pc), func.max(c.pc),
                   func.max(c.payment), func.min(c.day), func.max(c.o), func.sum(c.onet),
                   func.sum(c.ofee), func.min(c.oc), func.max(c.oc), func.max(c.k))
            .group_by(c.type, c.ref).having(func.max(c.touched) == 1))


def _fold_other() -> None:
    """Add the keys' lines of other days to their PSP sums (few rows: grouped, then one
    UPDATE per key)."""
    o = OTHER.c
    groups = db.session.execute(
        select(o.type, o.ref, func.sum(o.own), func.sum(o.gross), func.sum(o.fee),
               func.sum(o.net), func.min(o.currency), func.max(o.currency),
               func.max(o.payment), func.min(o.day)).group_by(o.type, o.ref)).all()
    current = {(r.type, r.ref): r for r in db.session.execute(
        select(KEYS).where(KEYS.c.ref.in_(select(o.ref))))}
    for type_, ref, n, gross, fee, net, c1, c2, payment, first in groups:
        k = current[(type_, ref)]
        values = {"p": 1, "n": (k.n or 0) + n, "gross": (k.gross or 0) + gross,
                  "fee": (k.fee or 0) + fee, "net": (k.net or 0) + net,
                  "c1": min(x for x in (k.c1, c1) if x), "c2": max(x for x in (k.c2, c2) if x),
                  "payment": max((x for x in (k.payment, payment) if x), default=None),
                  "first_day": min(x for x in (k.first_day, first) if x)}
        db.session.execute(KEYS.update().where(KEYS.c.type == type_, KEYS.c.ref == ref)
                           .values(**values))


def disagreeing():
    """The keys whose sides do not agree, or that an open difference is about (it may be
    matched now), in `matching._differing`'s column order: a scan of the keys."""
    k = KEYS.c
    ok = agrees(k.type, k.p, k.n, k.gross, k.fee, k.net, k.c1, k.c2, k.o, k.onet, k.ofee,
                k.o1, k.o2)
    return (select(k.type, k.ref, k.p, k.n, k.gross, k.fee, k.net, k.c1, k.c2, k.payment,
                   k.first_day, k.o, k.onet, k.ofee, k.o1, k.o2, k.open_id)
            .where(or_(not_(ok), k.open_id.is_not(None))))


def mark_bad(keys: list[tuple[str, str]]) -> None:
    """Keys that do not agree: their lines stay in clearing."""
    if keys:
        db.session.execute(insert(BAD), [{"type": t, "ref": r} for t, r in keys])


def _good(type_, ref):
    bad = select(BAD.c.type).where(BAD.c.type == type_, BAD.c.ref == ref).exists()
    return not_(bad)


def day_lines(provider: str, day: str, currency: str | None = None):
    """Condition on settlement_lines: the report day's lines not settled yet whose object
    agrees (read through the day index; each line probes the small table of bad keys)."""
    where = [sl.c.provider == provider, sl.c.day == day, sl.c.settlement_txn_id.is_(None),
             _good(line_type(), sl.c.source)]
    if currency is not None:
        where.append(sl.c.currency == currency)
    return and_(*where)


def other_lines(day: str | None = None, currency: str | None = None):
    """Select of the ids of the keys' lines of other days that agree (of `day`, `currency`)."""
    o = OTHER.c
    where = [_good(o.type, o.ref)]
    if day is not None:
        where += [o.day == day, o.currency == currency]
    return select(o.id).where(*where)


def settle_groups(provider: str, day: str):
    """Lines to settle per (day, currency): net, first line id, count."""
    groups = db.session.execute(
        select(sl.c.day, sl.c.currency, func.sum(sl.c.net), func.min(sl.c.id), func.count())
        .where(day_lines(provider, day)).group_by(sl.c.day, sl.c.currency)).all()
    if db.session.execute(select(func.count()).select_from(OTHER)).scalar_one():
        groups += db.session.execute(
            select(sl.c.day, sl.c.currency, func.sum(sl.c.net), func.min(sl.c.id),
                   func.count())
            .where(sl.c.id.in_(other_lines()), sl.c.settlement_txn_id.is_(None))
            .group_by(sl.c.day, sl.c.currency)).all()
    return groups


def clear() -> None:
    """Empty the working tables (the connection may serve another match next)."""
    for table in SCRATCH:
        db.session.execute(table.delete())
