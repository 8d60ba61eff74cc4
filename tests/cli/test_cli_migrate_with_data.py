"""Migrations upgrade a database that already holds rows (SQLite batch mode copies and drops
tables that other rows point at), and leave every foreign key intact."""
from __future__ import annotations

import sqlite3
from pathlib import Path

from flask_migrate import upgrade

from app import create_app
from config import load_config

VALUES = {"INT": 1, "BOOL": 0, "DATE": "2026-01-01 00:00:00", "TIME": "2026-01-01 00:00:00"}


def insert(db: sqlite3.Connection, table: str, **given) -> None:
    """One row with every required column filled (given values win; foreign keys point at 1)."""
    row = dict(given)
    for _, name, kind, notnull, default, pk in db.execute(f"PRAGMA table_info({table})"):
        if name in row or pk or not notnull or default is not None:
            continue
        row[name] = next((v for k, v in VALUES.items() if k in kind.upper()), "x")
    columns = ", ".join(row)
    db.execute(f"INSERT INTO {table} ({columns}) VALUES ({', '.join('?' for _ in row)})",
               list(row.values()))


def test_an_escrow_database_with_ledger_rows_upgrades_to_head(tmp_path, redis_url):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    app = create_app({**load_config("test"), "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade(revision="0007")
    db = sqlite3.connect(tmp_path / "old.db")
    db.execute("PRAGMA foreign_keys=ON")
    insert(db, "users", id=1, email="seller@test.example", role="seller")
    insert(db, "items", id=1, seller_id=1)
    insert(db, "orders", id=1, buyer_id=1)
    insert(db, "order_lines", id=1, order_id=1, item_id=1, seller_id=1)
    insert(db, "payments", id=1, order_id=1, amount=100, amount_authorized=100,
           amount_captured=100, amount_refunded=0, idempotency_key="k")
    insert(db, "escrow_holds", id=1, order_line_id=1, order_id=1, seller_id=1, gross_amount=100,
           fee_amount=10)
    insert(db, "ledger_transactions", id=1, intent="release:escrow:1", escrow_id=1,
           payment_id=1)
    db.commit()
    db.close()

    with app.app_context():
        upgrade()

    db = sqlite3.connect(tmp_path / "old.db")
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    assert db.execute("SELECT escrow_id FROM ledger_transactions").fetchall() == [(1,)]
    assert db.execute("SELECT gross_amount, fee_amount FROM escrow_holds").fetchall() == [(100, 10)]
    head = max(f.name[:4] for f in (Path(__file__).parents[2] / "migrations/versions").glob("0*.py"))
    assert db.execute("SELECT version_num FROM alembic_version").fetchone()[0] == head


def test_open_escrow_by_day_is_filled_from_the_holds_already_there(tmp_path, redis_url):
    """0048: each currency's open lines (held or on hold) per capture day, with what they still
    hold after refunds; released and refunded lines count for nothing."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    app = create_app({**load_config("test"), "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade(revision="0047")
    db = sqlite3.connect(tmp_path / "old.db")
    insert(db, "users", id=1, email="seller@test.example", role="seller")
    insert(db, "items", id=1, seller_id=1)
    insert(db, "orders", id=1, buyer_id=1)
    holds = [("held", "EUR", "2026-12-01 23:59:59.000000", 0),
             ("on_hold", "EUR", "2026-12-01 08:00:00.000000", 300),
             ("held", "EUR", "2026-12-02 00:00:00.000000", 0),
             ("released", "EUR", "2026-12-02 10:00:00.000000", 0),
             ("refunded", "EUR", "2026-12-02 11:00:00.000000", 1000),
             ("held", "USD", "2026-12-01 12:00:00.000000", 0)]
    for i, (status, currency, at, refunded) in enumerate(holds, start=1):
        insert(db, "order_lines", id=i, order_id=1, item_id=1, seller_id=1)
        insert(db, "escrow_holds", id=i, order_line_id=i, order_id=1, seller_id=1,
               currency=currency, gross_amount=1000, fee_amount=100, refunded_amount=refunded,
               status=status, created_at=at)
    db.commit()
    db.close()

    with app.app_context():
        upgrade()
        from app.extensions import db as sa_db
        from app.services.money import escrow_open

        assert escrow_open.days_match_holds() == []
        sa_db.session.remove()
        sa_db.engine.dispose()
    db = sqlite3.connect(tmp_path / "old.db")
    assert db.execute("SELECT currency, day, lines, amount FROM escrow_open_days "
                      "ORDER BY currency, day").fetchall() == [
        ("EUR", "2026-12-01", 2, 1700), ("EUR", "2026-12-02", 1, 1000),
        ("USD", "2026-12-01", 1, 1000)]


PSP = "sandbox"
# (event, intent, reference the row names, legs as (account, kind, owner, amount)); a posting
# for a row (payment, refund, payout, reversal, conversion) of id 1, each row's reference below.
POSTED = [
    ("capture", "capture:payment:1", "pi_1",
     [(f"psp_clearing:{PSP}", "psp_clearing", PSP, 970), ("psp_fees", "psp_fees", "", 30),
      ("escrow:1", "escrow", "1", -1000)]),
    ("refund", "refund:1", "re_1", [(f"psp_clearing:{PSP}", "psp_clearing", PSP, -400),
                                    ("escrow:1", "escrow", "1", 400)]),
    ("payout_paid", "payout:paid:1", "po_1", [(f"psp_clearing:{PSP}", "psp_clearing", PSP, -500),
                                              ("payouts_in_transit", "payouts_in_transit", "",
                                               500)]),
    ("transfer_reversed", "transfer_reversed:1", "trr_1",
     [(f"psp_clearing:{PSP}", "psp_clearing", PSP, 200), ("seller_available:1",
                                                         "seller_available", "1", -200)]),
    ("treasury_conversion", "conversion:1:EUR", "cv_1:EUR",
     [(f"psp_clearing:{PSP}", "psp_clearing", PSP, 300), ("fx_position", "fx_position", "", -300)]),
    ("dispute_opened", f"dispute_opened:{PSP}:dp_9", None,
     [(f"psp_clearing:{PSP}", "psp_clearing", PSP, -700), (f"dispute_reserve:{PSP}",
                                                          "dispute_reserve", PSP, 700)]),
    ("give_back_refunded", "give_back:refunded:1", None,
     [(f"psp_clearing:{PSP}", "psp_clearing", PSP, -100), ("give_back", "give_back", "", 100)]),
    ("escrow_release", "release:escrow:1", None, [("escrow:1", "escrow", "1", 100),
                                                  ("seller_available:1", "seller_available", "1",
                                                   -100)]),
    ("treasury_funding", "funding:1", None,  # an old two-PSP funding: neither PSP's object
     [(f"psp_clearing:{PSP}", "psp_clearing", PSP, -50), ("psp_clearing:stripe",
                                                         "psp_clearing", "stripe", 50)]),
]


def test_postings_made_before_0050_store_the_psp_object_ledger_post_stores_now(tmp_path,
                                                                                redis_url):
    """The backfill gives every existing posting the PSP object (provider, type, reference,
    clearing, fees) that ledger.post stores for the same posting today, so old days match as
    new ones do."""
    from app.services.reconciliation.ledger_events import psp_object

    url = f"sqlite:///{tmp_path / 'old.db'}"
    app = create_app({**load_config("test"), "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade(revision="0047")
    db = sqlite3.connect(tmp_path / "old.db")
    insert(db, "users", id=1, email="seller@test.example", role="seller")
    insert(db, "items", id=1, seller_id=1)
    insert(db, "orders", id=1, buyer_id=1)
    insert(db, "order_lines", id=1, order_id=1, item_id=1, seller_id=1)
    insert(db, "payments", id=1, order_id=1, amount=1000, amount_authorized=1000,
           amount_captured=1000, amount_refunded=0, idempotency_key="k", provider=PSP,
           psp_reference="pi_1")
    insert(db, "refunds", id=1, payment_id=1, provider=PSP, psp_reference="re_1")
    insert(db, "payouts", id=1, seller_id=1, provider=PSP, psp_reference="po_1")
    insert(db, "transfer_reversals", id=1, seller_id=1, provider=PSP, psp_reference="trr_1")
    insert(db, "treasury_conversions", id=1, provider=PSP, psp_reference="cv_1",
           sold_currency="USD", bought_currency="EUR")
    for txn_id, (event, intent, _, legs) in enumerate(POSTED, start=1):
        insert(db, "ledger_transactions", id=txn_id, intent=intent, event=event, currency="EUR",
               payment_id=1, payout_id=1 if event.startswith("payout") else None)
        for account, kind, owner, amount in legs:
            insert(db, "ledger_entries", transaction_id=txn_id, account=account, kind=kind,
                   owner=owner, currency="EUR", amount=amount)
    db.commit()
    db.close()

    with app.app_context():
        upgrade()

    db = sqlite3.connect(tmp_path / "old.db")
    stored = db.execute("SELECT psp_provider, psp_type, psp_ref, psp_net, psp_fee "
                        "FROM ledger_transactions ORDER BY id").fetchall()
    expected = [tuple(psp_object(event, intent, [
        {"account": a, "kind": k, "owner": o, "amount": n} for a, k, o, n in legs],
        psp_ref=ref).values()) for event, intent, ref, legs in POSTED]
    assert stored == expected
    assert stored[0] == (PSP, "charge", "pi_1", 970, 30)
    assert stored[5] == (PSP, "dispute", "dp_9", -700, 0)
    assert stored[6] == (PSP, "refund", None, -100, 0)  # worked out when matched
    assert stored[7] == stored[8] == (None,) * 5
