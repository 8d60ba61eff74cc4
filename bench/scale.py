"""Scale: the pages support, admins and sellers open all day, at N orders against 1,000 orders.

For each size a fresh platform is migrated, filled by bench/scale_data.py (bulk insert, not the
services), analysed, and each page is requested `samples` times through the app (routing,
session, role checks, queries, template, the access record it writes to the audit log). The
figure is the p95 latency; the ratio is p95 at N / p95 at 1,000 on the same database engine.

Target ≤ 2×: a page that reads "the newest 50", "the nearest 100 deadlines" or "this seller's
own figures" should cost about the same whatever the platform's history, when every query is
an index range or a keyset page (never OFFSET, never a scan of the whole table, never a query
per row). A page that grows with N has a scan or an N+1 in it: docs/performance.md names the
index or the keyset that keeps each page flat.
"""
from __future__ import annotations

import statistics
import time
from datetime import datetime

from bench.measure import Result

TARGET = 2.0
BASE_SIZE = 1000
# name → (path, who): who is a key of the accounts made in setup().
PAGES = {
    "seller dashboard": ("/seller", "seller"),
    "dispute queue": ("/support/disputes", "support"),
    "support search (payments by status)": ("/support/payments?status=unknown", "support"),
    "admin report (needs review)": ("/support/payments?review=1", "admin"),
    "audit-log page (newest 50)": ("/support/audit", "admin"),
    "audit-log search (action)": ("/support/audit?action=auth.", "admin"),
    # The admin and finance dashboard (issue 15), its default range: the last 30 days in EUR.
    "admin dashboard (/admin/reports)": ("/admin/reports", "admin"),
}


def run(sizes: tuple[int, int], samples: int, database_url: str | None = None,
        keep: str | None = None) -> list[Result]:
    """p95 per page at sizes[1] orders against sizes[0]. Both platforms are built first, then
    every page is requested from each in alternation, so that whatever else the machine does
    meanwhile falls on both sizes alike.

    keep: build each size once and reuse it in later runs (a million orders take 20-30 minutes
    to write here): SQLite files `<keep>-<size>.db`, or PostgreSQL databases `<name>_<size>` on
    database_url's server; a kept database is migrated forward, and filled only if empty."""
    from bench.stack import throwaway_app

    small, large = sizes
    engine = "PostgreSQL" if database_url else "SQLite"
    started = time.perf_counter()
    sizes_of = {"small": small, "large": large}
    timings: dict[str, dict[str, list[float]]] = {"small": {}, "large": {}}
    if keep:
        urls = [_kept_database(database_url, keep, n) for n in sizes]
    else:
        urls = [database_url, _second_database(database_url)]
    with throwaway_app(database_url=urls[0], keep_data=bool(keep)) as small_app, \
            throwaway_app(database_url=urls[1], keep_data=bool(keep)) as large_app:
        apps = {"small": small_app, "large": large_app}
        people = {}
        for size, app in apps.items():
            with app.app_context():
                people[size] = setup(app, sizes_of[size])
        built = time.perf_counter() - started
        clients = {size: app.test_client() for size, app in apps.items()}
        for name, (path, who) in PAGES.items():
            for size, app in apps.items():
                log_in(app, clients[size], people[size][who])
                for _ in range(3):  # warm-up: caches, compiled templates, prepared plans
                    get(app, clients[size], path)
                timings[size][name] = []
            for _ in range(samples):
                for size, app in apps.items():
                    timings[size][name].append(get(app, clients[size], path))
    took = time.perf_counter() - started
    base, big = timings["small"], timings["large"]
    return [Result(f"scale ({engine}): {name}, p95 at {large:,} vs {small:,} orders",
                   "ms p95", p95(big[name]), p95(base[name]), TARGET, higher_is_better=False,
                   note=f"median {statistics.median(big[name]):.1f} vs "
                        f"{statistics.median(base[name]):.1f} ms; {samples} requests each, "
                        f"alternating; built in {built:.0f} s, all in {took:.0f} s")
            for name in PAGES]


def _kept_database(url: str | None, keep: str, size: int) -> str:
    """The database kept for one size: a SQLite file, or a sibling PostgreSQL database."""
    if not url:
        return f"sqlite:///{keep}-{size}.db"
    return _second_database(url, f"_{size}")


def _second_database(url: str | None, suffix: str = "_large") -> str | None:
    """A sibling database on the same PostgreSQL server for the large size (created once)."""
    if not url:
        return None
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    name = f"{parsed.database}{suffix}"
    server = parsed.set(drivername="postgresql", database="postgres")
    with psycopg.connect(server.render_as_string(hide_password=False),
                         autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    return parsed.set(database=name).render_as_string(hide_password=False)


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


def setup(app, size: int) -> dict[str, int]:
    """Accounts, one item per seller, then `size` orders in bulk; {who: user id}."""
    from sqlalchemy import insert

    from app.extensions import db
    from app.models import Item, User
    from bench import scale_data
    from bench.stack import PASSWORD_HASH

    found = _built(size)
    if found:
        return found
    stamp = datetime.now()
    users = [{"email": f"{role}{n}@bench.example", "display_name": f"{role} {n}", "role": role,
              "password_hash": PASSWORD_HASH, "is_active_account": True, "session_version": 0,
              "created_at": stamp, "must_change_password": False}
             for role, count in (("seller", scale_data.SELLERS), ("buyer", scale_data.BUYERS),
                                 ("support", 1), ("admin", 1)) for n in range(count)]
    db.session.execute(insert(User), users)
    db.session.commit()
    ids = {role: [u.id for u in db.session.query(User).filter_by(role=role).order_by(User.id)]
           for role in ("seller", "buyer", "support", "admin")}
    db.session.execute(insert(Item), [
        {"seller_id": s, "title": "Bench item", "description": "", "price_amount": 1000,
         "currency": "EUR", "stock": 10**9, "active": True, "created_at": stamp,
         "category": "general"} for s in ids["seller"]])
    db.session.commit()
    items = dict(db.session.query(Item.seller_id, Item.id))
    # End our read transaction before the bulk load: on SQLite an open reader keeps every
    # checkpoint from completing, and the WAL grew to 9 GB at 50,000 orders, slowing every
    # later read (docs/performance.md).
    db.session.commit()
    raw = db.engine.raw_connection()
    try:
        scale_data.generate(raw.driver_connection, size, {"sellers": ids["seller"],
                                                          "buyers": ids["buyer"]}, items, stamp)
    finally:
        raw.close()
    _check(size)
    # What the periodic roll-up job (jobs/reporting.roll_up_days) would have done by now: the
    # closed days of the admin dashboard stored, today left to its live query.
    from app.services.reporting import rollups

    took = time.perf_counter()
    rolled = rollups.roll_up()
    print(f"  scale setup: {size:,} orders, {len(rolled)} days rolled up in "
          f"{time.perf_counter() - took:.0f} s", flush=True)
    return {"seller": ids["seller"][0], "support": ids["support"][0], "admin": ids["admin"][0]}


def _built(size: int) -> dict[str, int] | None:
    """{who: user id} of a kept database already holding `size` orders (None: build it). Its
    closed days since the last run are rolled up, as the periodic job would have."""
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models import Order, User
    from app.services.reporting import rollups

    if not db.session.scalar(select(func.count()).select_from(User)):
        return None
    if db.session.scalar(select(func.count()).select_from(Order)) != size:
        raise RuntimeError(f"a kept database holds another size than {size} orders: delete it")
    first = {role: db.session.scalar(select(func.min(User.id)).where(User.role == role))
             for role in ("seller", "support", "admin")}
    db.session.commit()
    took = time.perf_counter()
    rolled = rollups.roll_up()
    print(f"  scale setup: {size:,} orders reused, {len(rolled)} days rolled up in "
          f"{time.perf_counter() - took:.0f} s", flush=True)
    return first


def _check(size: int) -> None:
    # A benchmark that measured empty tables must break, not PASS.
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models import Order, Payment
    from app.models.audit import AuditRecord

    db.session.rollback()
    counts = [db.session.scalar(select(func.count()).select_from(m))
              for m in (Order, Payment, AuditRecord)]
    if counts != [size, size, size]:
        raise RuntimeError(f"expected {size} orders, payments, audit records; found {counts}")


def log_in(app, client, user_id: int) -> None:
    """Start a session for user_id with a fresh authentication code, as the login form would."""
    from app.auth_session import start_session
    from app.extensions import db
    from app.models import User

    if "bench_login" not in app.view_functions:
        @app.get("/_bench/as/<int:uid>", endpoint="bench_login")
        def bench_login(uid: int):
            start_session(db.session.get(User, uid), mfa_verified=True)
            return "ok"

    with app.app_context():
        answer = client.get(f"/_bench/as/{user_id}")
    if answer.status_code != 200:
        raise RuntimeError(f"bench login answered {answer.status_code}")


def get(app, client, path: str) -> float:
    """One page in its own app context (a fresh `g`, as in production); milliseconds."""
    with app.app_context():
        start = time.perf_counter()
        answer = client.get(path)
        elapsed = (time.perf_counter() - start) * 1000
    if answer.status_code != 200:
        raise RuntimeError(f"{path} answered {answer.status_code}")
    return elapsed
