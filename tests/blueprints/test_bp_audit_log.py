"""/support/audit: admins filter and page through the log; bad filters get a readable 400; the
page checks the chain around what it shows; no route anywhere can change the log."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import text

from app.clock import now
from app.database import is_postgresql, unit_of_work
from app.extensions import db
from app.models import AuditRecord
from app.services import audit
from app.services.audit import Actor
from tests.flows import login

ALICE = Actor("alice@test.example", "10.0.0.1")
BOB = Actor("bob@test.example", "10.0.0.2")


@pytest.fixture
def admin(app, people):
    client = app.test_client()
    login(client, "admin")
    return client


def _write(actor: Actor, action: str, target: str, outcome: str = "success") -> int:
    with unit_of_work():
        return audit.record(actor, action, target, outcome).id


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return [int(n) for n in re.findall(r"<tr><td>(\d+)</td>", response.get_data(as_text=True))]


@pytest.fixture
def log(app, people) -> dict[str, int]:
    return {"alice_login": _write(ALICE, "auth.login", "user:1", "failure"),
            "bob_view": _write(BOB, "payment.viewed", "payment:7"),
            "bob_view12": _write(BOB, "payment.viewed", "payment:12"),
            "alice_hold": _write(ALICE, "escrow.hold", "escrow:3")}


@pytest.mark.parametrize(("query", "expected"), [
    ("action=payment.", {"bob_view", "bob_view12"}),
    ("action=auth.login", {"alice_login"}),
    ("actor=alice", {"alice_login", "alice_hold"}),
    ("target=payment:7", {"bob_view"}),
    ("outcome=failure", {"alice_login"}),
    ("actor=alice&outcome=success", {"alice_hold"}),
    ("action=%25", set()),  # a LIKE wildcard is matched literally
    ("actor=_", set()),
])
def test_filters_select_the_matching_records(admin, log, query, expected):
    shown = set(_ids(admin.get(f"/support/audit?{query}")))
    assert {k for k, v in log.items() if v in shown} == expected


def test_date_filters_are_inclusive_utc_days(admin, log):
    today = now().date()
    assert set(log.values()) <= set(_ids(admin.get(f"/support/audit?from={today}&to={today}")))
    tomorrow, yesterday = today + timedelta(days=1), today - timedelta(days=1)
    assert _ids(admin.get(f"/support/audit?from={tomorrow}")) == []
    assert not set(log.values()) & set(_ids(admin.get(f"/support/audit?to={yesterday}")))


def test_pages_of_fifty_newest_first_with_an_older_link(admin, app, people):
    written = [_write(ALICE, "test.step", f"thing:{n}") for n in range(audit.PAGE_SIZE + 5)]
    first = admin.get("/support/audit?action=test.")
    page = _ids(first)
    assert page == sorted(written, reverse=True)[:audit.PAGE_SIZE]
    older = re.search(r'href="([^"]+)" rel="next">Older', first.get_data(as_text=True))
    assert older, "no Older link"
    link = older.group(1).replace("&amp;", "&")
    assert "after=" in link and "action=test." in link
    rest = admin.get(link)
    assert _ids(rest) == sorted(written, reverse=True)[audit.PAGE_SIZE:]
    assert "rel=\"next\"" not in rest.get_data(as_text=True)


@pytest.mark.parametrize(("query", "message"), [
    ("outcome=maybe", "outcome filter"),
    ("from=31-01-2026", "“from” date"),
    ("to=2026-02-30", "“to” date"),
    ("from=2026-02-02&to=2026-02-01", "after the “to” date"),
    ("after=abc", "page link is not valid"),
    ("after=WyJ4Il0", "page link is not valid"),  # ["x"]: not a record number
    ("after=WzEsMl0", "page link is not valid"),  # [1,2]: another list's cursor
    ("action=" + "a" * 65, "action filter is longer"),
    ("actor=" + "a" * 255, "actor filter is longer"),
])
def test_invalid_filters_get_a_readable_400(admin, query, message):
    response = admin.get(f"/support/audit?{query}")
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


def test_page_reports_the_chain_verified(admin, log):
    body = admin.get("/support/audit").get_data(as_text=True)
    assert re.search(r"Chain verified for records \d+–\d+", body)
    assert 'role="alert"' not in body


def test_page_names_a_changed_record(admin, app, log):
    if is_postgresql():
        pytest.skip("the append-only trigger refuses the edit (tests/security covers it)")
    db.session.execute(text("UPDATE audit_log SET target = 'payment:8' WHERE id = :id"),
                       {"id": log["bob_view"]})
    db.session.commit()
    body = admin.get("/support/audit").get_data(as_text=True)
    assert f"record {log['bob_view']}: its contents were changed" in body
    assert "Chain verified" not in body


def test_verify_records_catches_a_record_removed_next_to_a_shown_one(app, log):
    if is_postgresql():
        pytest.skip("the append-only trigger refuses the delete (tests/security covers it)")
    db.session.execute(text("DELETE FROM audit_log WHERE id = :id"), {"id": log["bob_view"]})
    db.session.commit()
    shown = [db.session.get(AuditRecord, log["bob_view12"])]  # a filtered page of one record
    assert audit.verify_records(shown) == [
        f"record {log['bob_view12']}: does not follow the previous record"]


@pytest.mark.parametrize("who", ["support", "seller", "buyer"])
def test_only_admins_read_the_log(app, people, who):
    client = app.test_client()
    login(client, who)
    assert client.get("/support/audit").status_code == 403


def test_no_route_can_change_the_audit_log(app):
    """Every URL rule that mentions the audit log answers reads only."""
    rules = [r for r in app.url_map.iter_rules() if "audit" in r.rule or "audit" in r.endpoint]
    assert rules, "the audit page is not registered"
    for rule in rules:
        assert rule.methods <= {"GET", "HEAD", "OPTIONS"}, f"{rule.rule} allows {rule.methods}"
