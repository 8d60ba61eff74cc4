"""app/database.locked: a row is read under lock once per transaction, and read again in the
next one (a capture's webhook locked its order three times, each a read and a reload)."""
from __future__ import annotations

from sqlalchemy import event as sa_event
from sqlalchemy import select, text

from app.database import locked, unit_of_work
from app.extensions import db
from app.models import Item


class Reads:
    """SELECTs on the items table sent while counting."""

    def __init__(self):
        self.count = 0

    def __call__(self, conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT") and " items" in statement:
            self.count += 1


def counting():
    reads = Reads()
    sa_event.listen(db.engine, "before_cursor_execute", reads)
    return reads


def stop(reads):
    sa_event.remove(db.engine, "before_cursor_execute", reads)


def test_a_row_locked_twice_in_one_transaction_is_read_once(people):
    reads = counting()
    try:
        with unit_of_work():
            first = locked(Item, people["mug"])
            first.stock -= 1
            second = locked(Item, people["mug"])
    finally:
        stop(reads)
    assert second is first and reads.count == 1
    db.session.expire_all()
    assert db.session.get(Item, people["mug"]).stock == first.stock  # the change committed


def test_the_next_transaction_reads_under_its_own_lock(people):
    with unit_of_work():
        before = locked(Item, people["mug"]).stock
    # Another connection changes the row between the two transactions.
    with db.engine.begin() as other:
        other.execute(text("UPDATE items SET stock = stock + 5 WHERE id = :id"),
                      {"id": people["mug"]})
    reads = counting()
    try:
        with unit_of_work():
            after = locked(Item, people["mug"]).stock
    finally:
        stop(reads)
    assert reads.count == 1 and after == before + 5


def test_a_deleted_row_is_not_handed_back(people):
    with unit_of_work():
        item = Item(seller_id=people["seller"], title="to delete", description="",
                    price_amount=100, currency="EUR", stock=1, active=True)
        db.session.add(item)
    item_id = item.id
    with unit_of_work():
        db.session.delete(locked(Item, item_id))
        db.session.flush()
        assert locked(Item, item_id) is None
    assert db.session.execute(select(Item.id).where(Item.id == item_id)).first() is None
