"""`flask staff create` / `flask staff enrolment-code`: the first admin of a new install gets an
account and the one-time code that lets it set up two-step sign-in; both are audit-logged."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditRecord, User
from app.services.audit import Actor
from app.services.errors import ServiceError
from app.services.security import enrolment_codes, staff


def last_audit(action: str) -> AuditRecord:
    db.session.rollback()
    return db.session.execute(select(AuditRecord).where(AuditRecord.action == action)
                              .order_by(AuditRecord.id.desc()).limit(1)).scalar_one()


def test_the_first_admin_gets_an_account_and_an_enrolment_code(app):
    runner = app.test_cli_runner()
    created = runner.invoke(args=["staff", "create", "Root@Example.com", "--name", "Root"])
    assert created.exit_code == 0, created.output
    password = re.search(r"temporary password \(shown once\): (\S+)", created.output).group(1)
    user = db.session.execute(select(User).where(User.email == "root@example.com")).scalar_one()
    assert user.role == "admin" and user.check_password(password)
    assert user.must_change_password  # the printed password works once, to choose one's own
    assert last_audit("account.created").actor.startswith("cli:")

    issued = runner.invoke(args=["staff", "enrolment-code", "ROOT@example.com"])
    assert issued.exit_code == 0, issued.output
    code = re.search(r"enrolment code \(shown once\): ([a-z2-9-]{19})", issued.output).group(1)
    assert "valid until" in issued.output
    record = last_audit("mfa.enrolment_code_issued")
    assert (record.target, record.origin, record.actor_id) == (f"user:{user.id}", "cli", None)
    assert enrolment_codes.check(user.id, code, Actor("root@example.com", "127.0.0.1", user.id))


def test_a_second_code_replaces_the_first(app, people):
    staff.reset_mfa(people["support"], Actor("admin@test.example", "127.0.0.1", people["admin"]))
    runner = app.test_cli_runner()
    first = runner.invoke(args=["staff", "enrolment-code", "support@test.example"]).output
    runner.invoke(args=["staff", "enrolment-code", "support@test.example"])
    code = re.search(r"([a-z2-9]{4}-){3}[a-z2-9]{4}", first).group(0)
    actor = Actor("support@test.example", "127.0.0.1", people["support"])
    with pytest.raises(ServiceError, match="not valid"):
        enrolment_codes.check(people["support"], code, actor)


def test_no_code_for_unknown_enrolled_or_non_staff_accounts(app, people):
    runner = app.test_cli_runner()
    for email, message in [("nobody@test.example", "no staff account"),
                           ("buyer@test.example", "no staff account"),
                           ("admin@test.example", "reset it first")]:
        result = runner.invoke(args=["staff", "enrolment-code", email])
        assert result.exit_code == 1 and message in result.output, result.output
        assert "shown once" not in result.output
