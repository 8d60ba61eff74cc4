"""One match's working tables and the few set-based statements over them (used by `matching`).

Each side is grouped once, on its own, into a table keyed by PSP object (type, ref):
`recon_keys` the PSP's lines of the day, then the objects our ledger moved that day and those
with an open difference are added as keys; `recon_ours` our ledger's postings of the window
for those keys only (the PSP object each posting stored, `sides.stored_postings`, and the few
worked out, `sides.ledger_objects`). A key's lines of other days (rare: a re-rated fee, a
duplicate) are copied to `recon_other` by index probes and folded into its sums (one
UPDATE … FROM). The keys that disagree are a scan of `recon_keys` probing `recon_ours` by
primary key, with `sides.agrees`; only they reach Python. Settling is a grouped SELECT and an
UPDATE per (day, currency), the disagreeing keys excluded through the small `recon_bad`.

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
    stored_objects,
    stored_postings,
)

_tables = MetaData()
# Per key, the PSP's side: presence (p), own-type line count (n), sums, currencies (min, max),
# the payment it names and its first day; and the open difference about it (open_id).
KEYS = Table("recon_keys", _tables, Column("type", String(20), primary_key=True),
             Column("ref", String(64), primary_key=True), Column("p", Integer),
             Column("n", BigInteger), Column("gross", BigInteger), Column("fee", BigInteger),
             Column("net", BigInteger), Column("c1", String(3)), Column("c2", String(3)),
             Column("payment", String(64)), Column("first_day", String(10)),
             Column("open_id", Integer), prefixes=["TEMPORARY"])
# Per object, our side over the window: presence, net, fee, currencies; `touched`: our ledger
# moved it on the day.
OURS = Table("recon_ours", _tables, Column("type", String(20), primary_key=True),
             Column("ref", String(64), primary_key=True), Column("o", Integer),
             Column("onet", BigInteger), Column("ofee", BigInteger), Column("o1", String(3)),
             Column("o2", String(3)), Column("touched", Integer), prefixes=["TEMPORARY"])
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
    "c1 VARCHAR(3), c2 VARCHAR(3), payment VARCHAR(64), first_day VARCHAR(10), "
    "open_id INTEGER, PRIMARY KEY (type, ref))",
    "CREATE TEMPORARY TABLE IF NOT EXISTS recon_ours (type VARCHAR(20) NOT NULL, "
    "ref VARCHAR(64) NOT NULL, o INTEGER, onet BIGINT, ofee BIGINT, o1 VARCHAR(3), "
    "o2 VARCHAR(3), touched INTEGER, PRIMARY KEY (type, ref))",
    "CREATE TEMPORARY TABLE IF NOT EXISTS recon_other (id BIGINT, type VARCHAR(20), "
    "ref VARCHAR(64), own INTEGER, gross BIGINT, fee BIGINT, net BIGINT, currency VARCHAR(3), "
    "payment VARCHAR(64), day VARCHAR(10))",
    "CREATE TEMPORARY TABLE IF NOT EXISTS recon_bad (type VARCHAR(20) NOT NULL, "
    "ref VARCHAR(64) NOT NULL, PRIMARY KEY (type, ref))",
)
SCRATCH = (KEYS, OURS, OTHER, BAD)


def fill(provider: str, day: str, start: datetime, end: datetime) -> int:
    """Fill the working tables: the PSP's side per key (the day's lines' objects, then those
    our ledger moved that day, then those with an open difference), our side for those keys,
    the keys' lines of other days; how many keys."""
    session = db.session
    for statement in DDL:
        session.execute(text(statement))
    clear()
    since = start - WINDOW
    # The PSP's side first: the day's lines grouped by object, through the day index.
    kind = line_type()
    keys = session.execute(insert(KEYS).from_select(
        ["type", "ref", "p", "n", "gross", "fee", "net", "c1", "c2", "payment", "first_day"],
        select(kind, sl.c.source, literal_column("1"),
               func.sum(case((sl.c.type == kind, 1), else_=0)), func.sum(sl.c.gross),
               func.sum(sl.c.fee), func.sum(sl.c.net), func.min(sl.c.currency),
               func.max(sl.c.currency), func.max(sl.c.payment), func.min(sl.c.day))
        .where(sl.c.provider == provider, sl.c.day == day).group_by(kind, sl.c.source),
        include_defaults=False)).rowcount
    # Then the objects our ledger moved that day (the day's postings, by the index of what
    # ledger.post stored, and the few worked out) that no line of the day reports.
    worked_out = ledger_objects(provider, start)
    moved = union_all(
        stored_objects(provider, start, end),
        select(worked_out.c.type, worked_out.c.ref)
        .where(worked_out.c.ref.is_not(None), worked_out.c.created_at < end)).subquery("moved")
    known = select(KEYS.c.type).where(KEYS.c.type == moved.c.type, KEYS.c.ref == moved.c.ref)
    keys += session.execute(insert(KEYS).from_select(
        ["type", "ref"], select(moved.c.type, moved.c.ref).distinct()
        .where(not_(known.exists())), include_defaults=False)).rowcount
    keys += _open_differences(provider)
    postgresql = session.get_bind().dialect.name == "postgresql"
    if postgresql:
        # Autovacuum never analyzes temporary tables: without this the planner guesses the
        # keys' count, joining them to the ledger blind.
        session.execute(text("ANALYZE recon_keys"))
    # Our side, only for the keys: each key's postings of the window (by the index on the
    # stored object; never every posting of the window, which would be a week of ledger for a
    # day of lines), and the few worked out, grouped on their own, narrow.
    worked_out = ledger_objects(provider, since)
    ours = union_all(stored_postings(provider, since, KEYS),
                     select(worked_out.c.type, worked_out.c.ref, literal_column("1"),
                            worked_out.c.currency, worked_out.c.created_at, worked_out.c.net,
                            worked_out.c.fee).where(worked_out.c.ref.is_not(None))
                     ).subquery("ours")
    in_day = case((and_(ours.c.created_at >= start, ours.c.created_at < end), 1), else_=0)
    session.execute(insert(OURS).from_select(
        [c.name for c in OURS.c],
        select(ours.c.type, ours.c.ref, func.max(ours.c.o), func.sum(ours.c.net),
               func.sum(ours.c.fee), func.min(ours.c.currency), func.max(ours.c.currency),
               func.max(in_day))
        .group_by(ours.c.type, ours.c.ref)))
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
    if postgresql:
        session.execute(text("ANALYZE recon_keys"))  # with the lines of other days folded in
        session.execute(text("ANALYZE recon_ours"))
    return keys


def _open_differences(provider: str) -> int:
    """Give the keys with an open difference its id, and add those that are not keys yet (an
    object in transit waits as an open difference: there can be a day's worth of them, so
    set-based, never one statement per difference); how many keys that added."""
    opened = (select(dif.c.type, dif.c.source, func.max(dif.c.id).label("id"))
              .where(dif.c.provider == provider, dif.c.status == "open",
                     dif.c.type != SUMMARY_TYPE)
              .group_by(dif.c.type, dif.c.source).subquery("opened"))
    db.session.execute(KEYS.update().values(open_id=opened.c.id)
                       .where(KEYS.c.type == opened.c.type, KEYS.c.ref == opened.c.source))
    known = select(KEYS.c.type).where(KEYS.c.type == opened.c.type,
                                      KEYS.c.ref == opened.c.source)
    return db.session.execute(insert(KEYS).from_select(
        ["type", "ref", "open_id"],
        select(opened.c.type, opened.c.source, opened.c.id).where(not_(known.exists())),
        include_defaults=False)).rowcount


def _fold_other() -> None:
    """Add the keys' lines of other days to their PSP sums: one UPDATE from their grouping."""
    o, k = OTHER.c, KEYS.c
    g = (select(o.type, o.ref, func.sum(o.own).label("n"), func.sum(o.gross).label("gross"),
                func.sum(o.fee).label("fee"), func.sum(o.net).label("net"),
                func.min(o.currency).label("c1"), func.max(o.currency).label("c2"),
                func.max(o.payment).label("payment"), func.min(o.day).label("first_day"))
         .group_by(o.type, o.ref).subquery("g"))

    def least(mine, theirs):
        return case((or_(mine.is_(None), theirs < mine), theirs), else_=mine)

    def greatest(mine, theirs):
        return case((or_(mine.is_(None), theirs > mine), theirs), else_=mine)

    db.session.execute(KEYS.update().where(k.type == g.c.type, k.ref == g.c.ref).values(
        p=1, n=func.coalesce(k.n, 0) + g.c.n, gross=func.coalesce(k.gross, 0) + g.c.gross,
        fee=func.coalesce(k.fee, 0) + g.c.fee, net=func.coalesce(k.net, 0) + g.c.net,
        c1=least(k.c1, g.c.c1), c2=greatest(k.c2, g.c.c2),
        payment=greatest(k.payment, g.c.payment),
        first_day=least(k.first_day, g.c.first_day)))


def disagreeing():
    """The keys whose sides do not agree, or that an open difference is about (it may be
    matched now), in `matching._differing`'s column order: the keys, each with its own row
    of our side by primary key."""
    k, o = KEYS.c, OURS.c
    ok = agrees(k.type, k.p, k.n, k.gross, k.fee, k.net, k.c1, k.c2, o.o, o.onet, o.ofee,
                o.o1, o.o2)
    return (select(k.type, k.ref, k.p, k.n, k.gross, k.fee, k.net, k.c1, k.c2, k.payment,
                   k.first_day, o.o, o.onet, o.ofee, o.o1, o.o2, k.open_id)
            .select_from(KEYS.outerjoin(OURS, and_(o.type == k.type, o.ref == k.ref)))
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
