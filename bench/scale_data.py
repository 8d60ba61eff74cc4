"""Bulk data for the scale benchmark: N paid orders with their lines, payments, escrow holds,
ledger postings, dispute cases and audit records, written straight into the tables in chunks
(executemany on SQLite, COPY on PostgreSQL), never through the services: a million orders in
minutes rather than hours.

The shape follows what the services write (capture postings from app.domain.ledger's own rule,
audit records with a valid hash chain), so the pages read data they could meet in production.
One seller ("the measured seller") has the same number of orders whatever N is: the question is
whether a seller's dashboard stays fast as the *platform* grows, not as that seller does.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta

SELLERS, BUYERS = 50, 2000
MEASURED_SELLER_ORDERS = 200
PRICES = (1250, 2400, 1890, 5900, 8900, 4200, 1690, 3300)
CHUNK = 20_000
START = datetime(2026, 1, 1)


def generate(conn, count: int, people: dict[str, list[int]], items: dict[int, int],
             now: datetime) -> None:
    """Write `count` orders and everything hanging off them through the DBAPI connection."""
    from app.domain import ledger as rules

    writer = _Writer(conn)
    sellers, buyers = people["sellers"], people["buyers"]
    measured, others = sellers[0], sellers[1:]
    every = max(1, count // MEASURED_SELLER_ORDERS)
    span = (now - START).total_seconds()
    legs_cache: dict[tuple[int, int], list] = {}
    prev = writer.last_audit_hash()
    entry_id = txn_id = 0
    for first in range(1, count + 1, CHUNK):
        rows: dict[str, list[tuple]] = {t: [] for t in _COLUMNS}
        for i in range(first, min(first + CHUNK, count + 1)):
            seller = measured if i % every == 0 else others[i % len(others)]
            buyer, price = buyers[i % len(buyers)], PRICES[i % len(PRICES)]
            at = START + timedelta(seconds=span * i / (count + 1))
            fee, psp_fee = price // 10, price * 29 // 1000 + 25
            status = "captured"
            review = i % 211 == 0
            if i % 997 == 0:
                status = "unknown"
            elif i % 53 == 0:
                status = "refunded"
            rows["orders"].append((i, buyer, "EUR", price, "paid", False, at, at))
            rows["order_lines"].append((i, i, items[seller], seller, "Bench item", price, 1, price,
                                        "EUR"))
            rows["payments"].append((
                i, i, "sandbox", "default route", "hosted", status, price, "EUR", price,
                price if status != "unknown" else 0, price if status == "refunded" else 0,
                f"pay_{i}", f"ps_bench_{i}", review, "bench: flagged" if review else None,
                psp_fee, at, at, False, ""))
            released = at < now - timedelta(days=20)
            rows["escrow_holds"].append((i, i, i, seller, "EUR", price, fee,
                                         "released" if released else "held", at, 0, 0))
            txn_id += 1
            rows["ledger_transactions"].append((txn_id, f"capture:bench:{i}", "capture", "EUR",
                                                i, None, at))
            key = (seller, price)
            if key not in legs_cache:
                legs_cache[key] = [(leg.account.code, leg.account.kind.value, leg.account.owner,
                                    leg.amount) for leg in
                                   rules.capture("sandbox", "EUR", price, psp_fee,
                                                 {seller: price}).legs]
            for account, kind, owner, amount in legs_cache[key]:
                entry_id += 1
                rows["ledger_entries"].append((entry_id, txn_id, account, kind, owner, "EUR",
                                               amount, at))
            if i % 100 == 0:  # 1 % of orders become a buyer's claim; recent ones still open
                open_case = at > now - timedelta(days=30)
                rows["dispute_cases"].append((
                    i // 100, "claim", "open" if open_case else "resolved", i, i, i, buyer,
                    seller, "not_received", "EUR", price, 0,
                    at + timedelta(days=3) if open_case else None, at, at))
            prev = _audit_row(rows["audit_log"], i, at, buyer, prev)
        for table, batch in rows.items():
            writer.write(table, batch)
    writer.finish()


_COLUMNS = {
    "orders": ("id", "buyer_id", "currency", "total_amount", "status", "stock_released",
               "created_at", "paid_at"),
    "order_lines": ("id", "order_id", "item_id", "seller_id", "title", "unit_amount", "quantity",
                    "line_total", "currency"),
    "payments": ("id", "order_id", "provider", "routing_reason", "integration_mode", "status",
                 "amount", "currency", "amount_authorized", "amount_captured", "amount_refunded",
                 "idempotency_key", "psp_reference", "needs_review", "review_reason",
                 "psp_fee_amount", "created_at", "updated_at", "save_payment_method",
                 "routing_fallbacks"),
    "escrow_holds": ("id", "order_line_id", "order_id", "seller_id", "currency", "gross_amount",
                     "fee_amount", "status", "created_at", "refunded_amount", "fee_returned"),
    "ledger_transactions": ("id", "intent", "event", "currency", "payment_id", "escrow_id",
                            "created_at"),
    "ledger_entries": ("id", "transaction_id", "account", "kind", "owner", "currency", "amount",
                       "created_at"),
    "dispute_cases": ("id", "kind", "status", "order_id", "payment_id", "order_line_id",
                      "buyer_id", "seller_id", "reason", "currency", "amount", "fee_amount",
                      "due_by", "created_at", "updated_at"),
    "audit_log": ("id", "occurred_at", "actor_id", "actor", "action", "outcome", "origin",
                  "target", "details", "prev_hash", "hash"),
}


def _audit_row(out: list, i: int, at: datetime, buyer: int, prev: str) -> str:
    """An "order.placed" record chained to the previous one exactly as services.audit does."""
    details = json.dumps({"order": i}, sort_keys=True)
    actor, origin, target = f"buyer{buyer}@bench.example", "198.51.100.7", f"order:{i}"
    body = json.dumps({"prev": prev, "at": at.isoformat(timespec="microseconds"),
                       "actor_id": buyer, "actor": actor, "action": "order.placed",
                       "outcome": "success", "origin": origin, "target": target,
                       "details": details}, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(body.encode()).hexdigest()
    out.append((_AUDIT_OFFSET + i, at, buyer, actor, "order.placed", "success", origin, target,
                details, prev, digest))
    return digest


_AUDIT_OFFSET = 1000  # ids above the records the setup itself wrote


class _Writer:
    """executemany on SQLite, COPY on PostgreSQL; one transaction per chunk and table."""

    def __init__(self, conn):
        self.conn = conn
        self.postgres = type(conn).__module__.startswith("psycopg")
        if not self.postgres:
            # A bulk load, not a payment: nothing here needs to survive a power cut, and the
            # indexes (ledger by owner, audit by action…) stay in a 2 GB page cache instead of
            # being re-read from disk for every chunk (the 1M-order build took ~50 min before).
            cur = conn.cursor()
            for pragma in ("synchronous = OFF", "cache_size = -2000000", "temp_store = MEMORY"):
                cur.execute(f"PRAGMA {pragma}")

    def last_audit_hash(self) -> str:
        from app.services.audit import GENESIS

        cur = self.conn.cursor()
        cur.execute("SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1")
        row = cur.fetchone()
        return row[0] if row else GENESIS

    def write(self, table: str, rows: list[tuple]) -> None:
        if not rows:
            return
        columns = _COLUMNS[table]
        cur = self.conn.cursor()
        if self.postgres:
            with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" for _ in columns)
            stamp = "%Y-%m-%d %H:%M:%S.%f"  # as SQLAlchemy stores DateTime on SQLite
            # The app's connections run pysqlite in autocommit (isolation_level None, so that
            # BEGIN IMMEDIATE is ours to send): without this BEGIN every row was a transaction
            # of its own, and a million orders took ~50 minutes to write.
            cur.execute("BEGIN")
            cur.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                            [tuple(v.strftime(stamp) if isinstance(v, datetime) else v
                                   for v in row) for row in rows])
        if self.postgres:
            self.conn.commit()
        else:
            cur.execute("COMMIT")

    def finish(self) -> None:
        cur = self.conn.cursor()
        # The running balances ledger.post keeps, for the legs written here around it.
        if not self.postgres:
            cur.execute("BEGIN")
        cur.execute("DELETE FROM ledger_balances")
        cur.execute("INSERT INTO ledger_balances (account, currency, balance) SELECT account, "
                    "currency, SUM(amount) FROM ledger_entries GROUP BY account, currency")
        # And open escrow by capture day (services/money/escrow_open), as migration 0048 fills it.
        cur.execute("DELETE FROM escrow_open_days")
        cur.execute("INSERT INTO escrow_open_days (currency, day, lines, amount) SELECT currency, "
                    "date(created_at), COUNT(*), SUM(gross_amount - refunded_amount) FROM "
                    "escrow_holds WHERE status IN ('held', 'on_hold') "
                    "GROUP BY currency, date(created_at)")
        if self.postgres:
            self.conn.commit()
        else:
            cur.execute("COMMIT")
        if self.postgres:
            for table in _COLUMNS:  # COPY with explicit ids leaves the sequences behind
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                            f"(SELECT max(id) FROM {table}))")
            self.conn.commit()
            self.conn.autocommit = True
            # VACUUM too, as autovacuum would have by now: it sets the visibility map that
            # lets PostgreSQL answer from an index alone (open escrow by age, ledger by owner).
            cur.execute("VACUUM ANALYZE")
            self.conn.autocommit = False
        else:
            cur.execute("ANALYZE")
            self.conn.commit()
            cur.execute("PRAGMA wal_checkpoint(TRUNCATE)")
