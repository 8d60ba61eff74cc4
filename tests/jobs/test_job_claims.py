"""The periodic sweep that hands claims nobody answered to support."""
from __future__ import annotations

from datetime import timedelta

from rq.registry import ScheduledJobRegistry

from app.clock import now
from app.database import unit_of_work
from app.extensions import db, queues
from app.jobs.claims import escalate_overdue
from app.jobs.scheduling import PERIODIC, run_periodic
from app.models import DisputeCase
from app.services.audit import Actor
from app.services.disputes import claims
from tests.blueprints.money_steps import holds, paid_order

BUYER = Actor("buyer@test.example", "127.0.0.1")


def _overdue_claim(app, people, stack, psp) -> int:
    order = paid_order(app, people, stack, psp)
    case = claims.open_claim(people["buyer"], holds(order)["Mug"].order_line_id, "not_received",
                             "Nothing yet.", [], BUYER)
    with unit_of_work():
        db.session.get(DisputeCase, case.id).due_by = now() - timedelta(minutes=1)
    return case.id


def _status(case_id: int) -> str:
    db.session.expire_all()
    return db.session.get(DisputeCase, case_id).status


def test_the_job_escalates_overdue_claims_once(app, people, stack, psp):
    case_id = _overdue_claim(app, people, stack, psp)
    assert escalate_overdue() == [case_id]
    assert _status(case_id) == "escalated"
    assert escalate_overdue() == []


def test_the_sweep_is_periodic_and_reschedules_itself(app, people, stack, psp):
    assert PERIODIC["claims"] == ("CLAIM_SWEEP_SECONDS", "app.jobs.claims.escalate_overdue")
    case_id = _overdue_claim(app, people, stack, psp)
    assert run_periodic("claims") == [case_id]
    registry = ScheduledJobRegistry(queue=queues.queue)
    assert b"periodic-claims" in queues.connection.zrange(registry.key, 0, -1)
    assert _status(case_id) == "escalated"
