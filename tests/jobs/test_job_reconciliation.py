"""The reconciliation jobs: the daily run queues yesterday's and today's import for every
provider with settlement data, each import job is idempotent, and completion runs alone."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.jobs import reconciliation as jobs
from app.jobs.scheduling import PERIODIC
from app.models.reconciliation import SettlementImport, SettlementLine
from app.services.reconciliation import imports
from tests.flows import latest_payment, paid_order, run_jobs
from tests.services.reconciliation.recon_steps import (
    forget_psp_movements,
    paid_out,
    released_order,
)


@pytest.fixture(autouse=True)
def _own_sandbox_day(psp):
    forget_psp_movements(psp)


def test_both_jobs_are_periodic():
    assert PERIODIC["reconciliation"][1] == "app.jobs.reconciliation.reconcile_daily"
    assert PERIODIC["completion"][1] == "app.jobs.reconciliation.complete_payments"


def test_the_daily_run_imports_yesterday_and_today_and_a_rerun_adds_nothing(
        app, client, people, stack, psp):
    paid_order(client, people, stack, psp, {"mug": 1})
    queued = jobs.reconcile_daily()
    assert len(queued) == 2 and run_jobs() == 2
    rows = db.session.execute(select(SettlementImport).order_by(SettlementImport.day)).scalars()
    today = imports.today().isoformat()
    assert [(r.provider, r.status, r.lines_imported if r.day == today else 0)
            for r in rows] == [("sandbox", "done", 0), ("sandbox", "done", 1)]
    jobs.reconcile_daily()
    run_jobs()
    assert db.session.execute(select(func.count()).select_from(SettlementLine)).scalar_one() == 1


def test_completion_job_completes_what_became_ready(app, client, people, stack, psp):
    payment = latest_payment(released_order(client, people, stack, psp))
    jobs.import_day(imports.request_import("sandbox", imports.today().isoformat(),
                                           jobs.DAILY, enqueue=False))
    assert jobs.complete_payments() == []  # settled, released, but the seller is not paid
    paid_out(people, psp)
    assert jobs.complete_payments() == [payment.id]
