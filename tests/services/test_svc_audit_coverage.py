"""PCI DSS 10.2.1: every event class leaves a record with who, what, when, outcome, origin and
target — reads of payment data and of the log, staff actions (done and refused), failed logins
and credential changes."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.clock import now
from app.extensions import db
from app.models import AuditRecord
from app.services.audit import Actor
from app.services.errors import Conflict
from app.services.form_intents import mint
from app.services.money import escrow
from tests.blueprints.money_steps import holds, paid_order, release
from tests.flows import PASSWORD, add, login, order_and_start

ORIGIN = "127.0.0.1"  # the test client's address


def _last(action: str) -> AuditRecord:
    db.session.rollback()
    entry = db.session.execute(select(AuditRecord).where(AuditRecord.action == action)
                               .order_by(AuditRecord.id.desc()).limit(1)).scalar_one_or_none()
    assert entry is not None, f"no {action} record"
    return entry


def _assert_complete(entry: AuditRecord, *, actor_id: int | None, actor: str, outcome: str,
                     target: str, origin: str = ORIGIN) -> None:
    """who (label and id), when (just now), outcome, origin and target, all as expected."""
    assert (entry.actor, entry.actor_id) == (actor, actor_id)
    assert now() - timedelta(minutes=2) < entry.occurred_at <= now()
    assert (entry.outcome, entry.origin, entry.target) == (outcome, origin, target)


def _staff(app, who: str):
    client = app.test_client()
    login(client, who)
    return client


@pytest.mark.parametrize("who", ["support", "admin"])
def test_staff_viewing_a_payment_is_recorded(app, people, who):
    buyer = app.test_client()
    login(buyer, "buyer")
    add(buyer, people["mug"])
    _, payment = order_and_start(buyer)
    assert _staff(app, who).get(f"/support/payments/{payment.id}").status_code == 200
    _assert_complete(_last("payment.viewed"), actor_id=people[who], actor=f"{who}@test.example",
                     outcome="success", target=f"payment:{payment.id}")


def test_a_missing_payment_is_not_recorded_as_viewed(app, people):
    assert _staff(app, "support").get("/support/payments/999999").status_code == 404
    db.session.rollback()
    assert db.session.execute(select(AuditRecord).where(
        AuditRecord.action == "payment.viewed")).first() is None


def test_listing_payments_is_recorded_with_the_filter(app, people):
    client = _staff(app, "support")
    assert client.get("/support/payments?status=captured&review=1").status_code == 200
    entry = _last("payments.listed")
    _assert_complete(entry, actor_id=people["support"], actor="support@test.example",
                     outcome="success", target="payments")
    assert json.loads(entry.details) == {"status": "captured", "review": True}


def test_viewing_the_audit_log_is_recorded_with_the_filter(app, people):
    client = _staff(app, "admin")
    assert client.get("/support/audit?action=auth.&outcome=failure").status_code == 200
    entry = _last("audit.viewed")
    _assert_complete(entry, actor_id=people["admin"], actor="admin@test.example",
                     outcome="success", target="audit_log")
    assert json.loads(entry.details)["filter"] == {"action": "auth.", "outcome": "failure"}


def test_failed_login_is_recorded(app, people, client):
    response = client.post("/login", data={"email": "buyer@test.example", "password": "nope"})
    assert response.status_code != 303
    _assert_complete(_last("auth.login"), actor_id=people["buyer"], actor="buyer@test.example",
                     outcome="failure", target=f"user:{people['buyer']}")


def test_failed_login_for_an_unknown_account_is_recorded(app, people, client):
    client.post("/login", data={"email": "nobody@test.example", "password": "nope"})
    _assert_complete(_last("auth.login"), actor_id=None, actor="nobody@test.example",
                     outcome="failure", target="user:nobody@test.example")


def test_wrong_authentication_code_is_recorded(app, people, client):
    client.post("/login", data={"email": "admin@test.example", "password": PASSWORD})
    client.post("/login/code", data={"code": "000000"})
    entry = _last("mfa.verified")
    _assert_complete(entry, actor_id=people["admin"], actor="admin@test.example",
                     outcome="failure", target=f"user:{people['admin']}")


@pytest.mark.parametrize(("current", "outcome"), [(PASSWORD, "success"), ("wrong", "failure")])
def test_password_change_is_recorded(app, people, client, current, outcome):
    login(client, "buyer")
    new = "a-brand-new-passphrase-42"
    client.post("/account/password", data={"current_password": current, "new_password": new,
                                           "repeat_password": new})
    _assert_complete(_last("auth.password_changed"), actor_id=people["buyer"],
                     actor="buyer@test.example", outcome=outcome,
                     target=f"user:{people['buyer']}")


def test_staff_escrow_decisions_are_recorded_done_and_refused(app, people, stack, psp):
    order_id = paid_order(app, people, stack, psp)
    mug = holds(order_id)["Mug"]
    client = _staff(app, "support")
    assert client.post(f"/support/escrow/{mug.id}/hold", data={"intent": mint()}).status_code == 303
    _assert_complete(_last("escrow.hold"), actor_id=people["support"],
                     actor="support@test.example", outcome="success", target=f"escrow:{mug.id}")
    release(mug.id)
    refused = client.post(f"/support/escrow/{mug.id}/hold", data={"intent": mint()})
    assert refused.status_code == 303  # refused: released
    refused = _last("escrow.hold")
    _assert_complete(refused, actor_id=people["support"], actor="support@test.example",
                     outcome="failure", target=f"escrow:{mug.id}")
    assert "released" in refused.details
    assert holds(order_id)["Mug"].status == "released"


def test_a_refused_decision_is_recorded_and_still_raises(app, people, stack, psp):
    order_id = paid_order(app, people, stack, psp)
    mug = holds(order_id)["Mug"]
    release(mug.id)
    worker = Actor("system:test", "worker")
    with pytest.raises(Conflict):
        escrow.support_decide(mug.id, "release", worker)
    _assert_complete(_last("escrow.release"), actor_id=None, actor="system:test",
                     outcome="failure", target=f"escrow:{mug.id}", origin="worker")


def test_every_payment_view_adds_one_record(app, people):
    """Two views, two records: a view is never deduplicated away."""
    buyer = app.test_client()
    login(buyer, "buyer")
    add(buyer, people["mug"])
    _, payment = order_and_start(buyer)
    client = _staff(app, "support")
    client.get(f"/support/payments/{payment.id}")
    client.get(f"/support/payments/{payment.id}")
    db.session.rollback()
    views = db.session.execute(select(AuditRecord).where(
        AuditRecord.action == "payment.viewed",
        AuditRecord.target == f"payment:{payment.id}")).scalars().all()
    assert len(views) == 2
