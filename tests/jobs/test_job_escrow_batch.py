"""The escrow sweep releases due lines in batches, one transaction and one ledger write each."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.clock import now
from app.extensions import db
from app.jobs import escrow as escrow_jobs
from app.models import EscrowHold
from app.models.audit import AuditRecord
from app.models.ledger import LedgerTransaction
from app.services.audit import Actor
from app.services.money import escrow
from tests.flows import paid_order

SELLER = Actor("seller@test.example", "127.0.0.1")


def overdue_lines(client, people, stack, psp) -> list[int]:
    """Two shipped lines of one order (two sellers) whose timers ran out."""
    order_id = paid_order(client, people, stack, psp, {"mug": 1, "candle": 1})
    holds = list(db.session.execute(
        select(EscrowHold).where(EscrowHold.order_id == order_id)).scalars())
    for hold in holds:
        escrow.mark_shipped(hold.seller_id, hold.id, f"T{hold.id}", SELLER)
    for hold in holds:
        db.session.get(EscrowHold, hold.id).release_due_at = now() - timedelta(minutes=1)
    db.session.commit()
    return [h.id for h in holds]


def test_the_sweep_releases_every_due_line_across_batches(client, people, stack, psp,
                                                          monkeypatch):
    ids = overdue_lines(client, people, stack, psp)
    monkeypatch.setattr(escrow_jobs, "BATCH", 1)  # two batches and an empty third
    assert escrow_jobs.release_due() == 2
    db.session.expire_all()
    assert {db.session.get(EscrowHold, i).released_by for i in ids} == {"timer"}
    intents = set(db.session.execute(select(LedgerTransaction.intent)).scalars())
    assert {f"release:escrow:{i}" for i in ids} <= intents
    released = db.session.execute(select(AuditRecord.target).where(
        AuditRecord.action == "escrow.released")).scalars().all()
    assert sorted(released) == sorted(f"escrow:{i}" for i in ids)
    assert escrow_jobs.release_due() == 0  # nothing twice


def test_a_batch_leaves_lines_that_are_not_due_or_not_held(client, people, stack, psp):
    first, second = overdue_lines(client, people, stack, psp)
    db.session.get(EscrowHold, second).release_due_at = now() + timedelta(days=1)
    db.session.commit()
    assert escrow.release_due_batch(SELLER, limit=10) == 1
    db.session.expire_all()
    assert db.session.get(EscrowHold, first).status == "released"
    assert db.session.get(EscrowHold, second).status == "held"
    assert escrow.release_due_batch(SELLER, limit=10) == 0
