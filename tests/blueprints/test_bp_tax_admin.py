"""The admin's tax pages: the rates table (one rate, a whole file; audited, errors next to the
field), the per-country report and its CSV; the buyer's country on the cart page."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditRecord, User
from app.services.audit import Actor
from app.services.shop import tax
from tests.flows import login


@pytest.fixture
def admin(app, people):
    client = app.test_client()
    login(client, "admin")
    return client


def actions(name: str) -> list[AuditRecord]:
    db.session.commit()
    return db.session.execute(select(AuditRecord).where(AuditRecord.action == name)).scalars().all()


def test_admin_sets_changes_and_removes_a_rate(admin):
    response = admin.post("/admin/tax", data={"country": "de", "category": "standard",
                                              "rate": "19"})
    assert response.status_code == 303
    admin.post("/admin/tax", data={"country": "DE", "category": "standard", "rate": "16"})
    assert tax.table() == {("DE", "standard"): 1600}
    page = admin.get("/admin/tax").get_data(as_text=True)
    assert "16 %" in page
    records = actions("tax.rate_set")
    details = [json.loads(r.details) for r in records]
    assert [(d.get("before_bps"), d["bps"]) for d in details] == \
        [(None, 1900), (1900, 1600)]
    admin.post("/admin/tax/remove", data={"country": "DE", "category": "standard"})
    assert tax.table() == {} and len(actions("tax.rate_removed")) == 1


def test_a_bad_rate_is_explained_next_to_the_field_and_nothing_changes(admin):
    response = admin.post("/admin/tax", data={"country": "DE", "category": "standard",
                                              "rate": "7.125"})
    assert response.status_code == 400
    assert "at most two decimals" in response.get_data(as_text=True)
    assert tax.table() == {}


def test_a_rates_file_replaces_the_table_all_or_nothing(admin):
    admin.post("/admin/tax/import", data={"text": "DE,standard,19\nFR,reduced,5.5\n"})
    assert tax.table() == {("DE", "standard"): 1900, ("FR", "reduced"): 550}
    response = admin.post("/admin/tax/import", data={"text": "NL,standard,21\nNL,bogus,3\n"})
    assert response.status_code == 400
    assert "line 2" in response.get_data(as_text=True)
    assert tax.table() == {("DE", "standard"): 1900, ("FR", "reduced"): 550}
    assert json.loads(actions("tax.rates_imported")[0].details)["changed"] == ["DE/standard", "FR/reduced"]


def test_the_report_page_and_csv_answer_for_a_period(admin):
    page = admin.get("/admin/tax/report?start=2026-01-01&end=2026-12-31")
    assert page.status_code == 200 and "No tax collected" in page.get_data(as_text=True)
    csv = admin.get("/admin/tax/report.csv?start=2026-01-01&end=2026-12-31")
    assert csv.mimetype == "text/csv"
    assert csv.get_data(as_text=True).startswith("country,currency,collected_minor")
    assert admin.get("/admin/tax/report.csv?start=2026-12-31&end=2026-01-01").status_code == 400


@pytest.mark.parametrize("who", ["buyer", "seller", "support"])
def test_only_admins_reach_the_tax_pages(app, people, who):
    client = app.test_client()
    login(client, who)
    assert client.get("/admin/tax").status_code == 403
    assert client.post("/admin/tax", data={"country": "DE", "category": "standard",
                                           "rate": "1"}).status_code == 403


def test_the_buyer_saves_a_country_and_eu_prices_then_include_vat(client, people, app):
    tax.import_csv("DE,standard,19\nUS,standard,7.25\n", Actor("admin@test.example", "t"))
    login(client, "buyer")
    client.post("/cart/add", data={"item_id": people["mug"], "quantity": 1})
    assert client.post("/account/country", data={"country": "DE"}).status_code == 303
    assert db.session.get(User, people["buyer"]).country == "DE"
    page = client.get("/cart").get_data(as_text=True)
    assert "Prices include VAT" in page and "28.56" in page     # 24.00 + 19 %
    client.post("/account/country", data={"country": "US"})
    page = client.get("/cart").get_data(as_text=True)
    assert "Sales tax (US)" in page and "25.74" in page         # 24.00 + 7.25 % = 25.74
    assert client.post("/account/country", data={"country": "ZZ"}).status_code == 303
    assert db.session.get(User, people["buyer"]).country == "US"
