"""`flask ledger check`: exit 0 on sound books; exit 1 naming the offending postings otherwise."""
from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import EscrowHold, LedgerEntry, LedgerTransaction
from app.services.audit import Actor
from app.services.money import escrow
from tests.flows import paid_order


def paid_and_released(client, people, stack, psp) -> None:
    paid_order(client, people, stack, psp, {"mug": 1})
    hold = db.session.execute(select(EscrowHold)).scalar_one()
    escrow.support_decide(hold.id, "release", Actor("support@test.example", "127.0.0.1"))


def test_sound_books_pass(app, client, people, stack, psp):
    paid_and_released(client, people, stack, psp)
    result = app.test_cli_runner().invoke(args=["ledger", "check"])
    assert result.exit_code == 0, result.output
    assert "ledger balanced" in result.output


def test_an_unbalanced_posting_is_named(app, client, people, stack, psp):
    paid_and_released(client, people, stack, psp)
    release = db.session.execute(select(LedgerTransaction).where(
        LedgerTransaction.event == "escrow_release")).scalar_one()
    entry = db.session.execute(select(LedgerEntry).where(
        LedgerEntry.transaction_id == release.id,
        LedgerEntry.kind == "platform_fees")).scalar_one()
    entry.amount -= 1  # one cent appears from nowhere
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["ledger", "check"])
    assert result.exit_code == 1
    assert f"posting {release.id} (release:escrow:" in result.output
    assert "legs sum to -1" in result.output
    entry.amount += 1  # leave sound books for the suite's own check after the test
    db.session.commit()


def test_a_missing_capture_posting_is_named(app, client, people, stack, psp):
    paid_and_released(client, people, stack, psp)
    capture = db.session.execute(select(LedgerTransaction).where(
        LedgerTransaction.event == "capture")).scalar_one()
    capture.intent = "capture:payment:lost"
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["ledger", "check"])
    assert result.exit_code == 1
    assert "captured with 0 capture postings" in result.output
    capture.intent = f"capture:payment:{capture.payment_id}"
    db.session.commit()
