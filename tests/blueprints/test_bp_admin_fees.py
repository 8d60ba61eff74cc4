"""/admin/fees: an admin previews a fee rule on a sample line, saves it (audited), sees refusals
next to their field, and removes it."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.domain.fees import FeeRule
from app.extensions import db
from app.models import AuditRecord
from app.services.money import fee_rules
from tests.flows import login


@pytest.fixture
def admin(app, people):
    client = app.test_client()
    login(client, "admin")
    return client


def _form(people, **changes) -> dict:
    form = {"seller_id": str(people["seller"]), "category": "general", "bps": "250",
            "currency": "EUR", "fixed": "0,30", "minimum": "0.50", "maximum": "10.00",
            "sample": "100.00"}
    form.update(changes)
    return form


def test_preview_shows_the_fee_and_saves_nothing(admin, people):
    page = admin.post("/admin/fees", data={**_form(people), "preview": "Preview"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    # 2.5 % of 100.00 = 2.50, + 0.30 = 2.80; the seller keeps 97.20; today 10 % applies.
    assert 'data-fee="280"' in html and "97.20" in html and "default" in html
    assert fee_rules.rules() == []


def test_save_puts_the_rule_in_force_and_audits_it(admin, people):
    saved = admin.post("/admin/fees", data={**_form(people), "save": "Save rule"})
    assert saved.status_code == 303
    assert fee_rules.rule_for(people["seller"], "general") == (FeeRule(250, 30, 50, 1000),
                                                               "seller+category:general")
    db.session.rollback()
    record = db.session.execute(select(AuditRecord).where(
        AuditRecord.action == "fee_rule.saved")).scalar_one()
    assert record.actor == "admin@test.example"
    listed = admin.get("/admin/fees").get_data(as_text=True)
    assert "seller@test.example" in listed and "1000" in listed


@pytest.mark.parametrize("field, value, words", [
    ("bps", "10001", "Basis points run from 0"),
    ("minimum", "abc", "minimum"),
    ("maximum", "0.10", "maximum cannot be below"),
    ("sample", "0", "sample amount above zero"),
])
def test_a_refusal_sits_next_to_its_field(admin, people, field, value, words):
    page = admin.post("/admin/fees", data={**_form(people, **{field: value}), "save": "Save"})
    html = page.get_data(as_text=True)
    assert page.status_code == 400
    assert f'id="{field}-error"' in html
    assert words.lower() in html.lower() or field == "minimum"
    assert fee_rules.rules() == []


def test_remove(admin, people):
    from app.services.audit import Actor

    rule_id = fee_rules.set_rule(None, "books", FeeRule(300), Actor("x", "127.0.0.1"))
    assert admin.post(f"/admin/fees/{rule_id}/delete").status_code == 303
    assert fee_rules.rules() == []
