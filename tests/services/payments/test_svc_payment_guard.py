"""The payment table guards every write: a forbidden move from a service raises ForbiddenMove
naming both statuses, and the service's transaction leaves nothing half-written."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.database import locked, unit_of_work
from app.domain import ledger as rules
from app.domain.transitions import ForbiddenMove
from app.extensions import db
from app.models import LedgerTransaction, Payment
from app.services import audit
from app.services.money import ledger
from app.services.payments import payments
from tests.services.payments.test_svc_payments import (
    ACTOR,
    S,
    audit_actions,
    fresh,
    history,
    report,
    start,
)


def postings() -> int:
    return db.session.execute(select(func.count(LedgerTransaction.id))).scalar_one()


def test_a_caller_whose_own_check_is_wrong_cannot_move_the_payment(people, monkeypatch):
    _, payment_id = start(people)
    payments.apply_report(payment_id, report(S.CAPTURED), "t", ACTOR)  # escrow + posting
    before = (history(payment_id), audit_actions(payment_id), postings())
    # A service that trusts a stale or wrong check of its own: the table still refuses.
    monkeypatch.setattr(payments, "can_transition", lambda current, target: True)

    with pytest.raises(ForbiddenMove) as caught:
        payments.apply_report(payment_id, report(S.AUTHORIZED, amount_authorized=9900),
                              "late webhook", ACTOR)

    assert (caught.value.machine, caught.value.current, caught.value.target) == (
        "payment", S.CAPTURED, S.AUTHORIZED)
    assert str(caught.value) == "payment cannot move from captured to authorized"
    payment = fresh(payment_id)
    assert payment.status == "captured"
    assert payment.amount_authorized == 4800  # the facts copied before the move rolled back
    assert (history(payment_id), audit_actions(payment_id), postings()) == before
    assert audit.verify_chain() == []


def test_a_forbidden_move_rolls_back_the_posting_and_audit_written_before_it(people):
    _, payment_id = start(people)  # PROCESSING
    before = (history(payment_id), audit_actions(payment_id), postings())

    with pytest.raises(ForbiddenMove, match="payment cannot move from processing to completed"):
        with unit_of_work():
            payment = locked(Payment, payment_id)
            # Lock → record → transition, in one transaction, as a service does it.
            ledger.post(rules.payout_paid(people["seller"], "sandbox", "EUR", 100),
                        "test:guard", payment_id=payment_id)
            audit.record(ACTOR, "test.before_move", f"payment:{payment_id}")
            payments.record_change(payment, S.COMPLETED, "skips the PSP", ACTOR)

    assert fresh(payment_id).status == "processing"
    assert (history(payment_id), audit_actions(payment_id), postings()) == before
    assert db.session.execute(select(LedgerTransaction.id).where(
        LedgerTransaction.intent == "test:guard")).first() is None
