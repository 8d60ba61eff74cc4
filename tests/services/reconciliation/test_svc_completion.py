"""COMPLETED: captured, settled by the PSP per the reconciliation, every line released or
refunded, the seller paid out — and not a moment before."""
from __future__ import annotations

import pytest

from app.extensions import db
from app.models import Order, Payment
from app.services.reconciliation import completion
from tests.flows import latest_payment, paid_order, run_jobs
from tests.services.reconciliation.recon_steps import (
    FINANCE,
    forget_psp_movements,
    paid_out,
    reconcile,
    released_order,
)


@pytest.fixture(autouse=True)
def _own_sandbox_day(psp):
    forget_psp_movements(psp)


def status(payment_id: int) -> tuple[str, str]:
    db.session.expire_all()
    payment = db.session.get(Payment, payment_id)
    return payment.status, db.session.get(Order, payment.order_id).status


def test_a_settled_released_paid_out_payment_completes_and_so_does_its_order(
        client, people, stack, psp):
    payment = latest_payment(released_order(client, people, stack, psp))
    reconcile()
    assert completion.ready_ids() == []  # released, but the seller has not been paid
    paid_out(people, psp)
    reconcile()

    assert completion.complete_ready(FINANCE) == [payment.id]
    assert status(payment.id) == ("completed", "completed")
    assert completion.complete_ready(FINANCE) == []  # once


def test_nothing_completes_before_settlement_or_while_a_line_is_held(client, people, stack, psp):
    held = latest_payment(paid_order(client, people, stack, psp, {"mug": 1}))
    assert completion.ready_ids() == []  # not settled: no import yet
    reconcile()
    assert completion.ready_ids() == []  # settled, but its line is still in escrow
    assert status(held.id) == ("captured", "paid")


def test_the_import_job_completes_what_it_settled(client, people, stack, psp):
    from app.services.reconciliation import imports

    payment = latest_payment(released_order(client, people, stack, psp))
    paid_out(people, psp)
    imports.request_import("sandbox", imports.today().isoformat(), FINANCE)
    assert run_jobs() >= 1
    assert status(payment.id) == ("completed", "completed")
