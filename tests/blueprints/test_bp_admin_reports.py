"""The admin dashboard page, its CSV sections and the compliance report."""
from __future__ import annotations

import csv
import io
import re

from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditRecord, LedgerEntry
from tests.blueprints.money_steps import holds, paid_order, release
from tests.flows import login


def _admin(app):
    client = app.test_client()
    login(client, "admin")
    return client


def _csv(response) -> list[list[str]]:
    assert response.status_code == 200 and response.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def test_dashboard_shows_the_ledgers_totals_with_charts_tables_and_csv(app, people, stack, psp):
    order_id = paid_order(app, people, stack, psp)
    release(holds(order_id)["Mug"].id)
    client = _admin(app)
    html = client.get("/admin/reports?currency=EUR").get_data(as_text=True)
    gmv = re.search(r'data-figure="gmv">([^<]+)<', html).group(1)
    assert gmv == "€64.90"
    assert re.search(r'data-figure="platform_fees">([^<]+)<', html).group(1) == "€4.80"
    assert html.count("<svg") >= 8 and "<script" not in html.split("<main", 1)[-1]
    assert "0.9 % Visa monitoring" in html and "1.5 % Mastercard ECM" in html
    rows = _csv(client.get("/admin/reports/totals.csv?currency=EUR"))
    assert rows[0] == ["figure", "amount (EUR)"]
    assert dict(rows[1:])["GMV (captured)"] == "64.90"
    fees = db.session.execute(select(func.sum(LedgerEntry.amount))
                              .where(LedgerEntry.kind == "platform_fees")).scalar_one()
    assert dict(rows[1:])["Platform fee revenue"] == f"{-fees / 100:.2f}"
    daily = _csv(client.get("/admin/reports/daily.csv?currency=EUR"))
    assert sum(float(r[1]) for r in daily[1:]) == 64.90
    assert client.get("/admin/reports/nope.csv").status_code == 404


def test_bad_period_is_explained_next_to_the_form(app, people):
    client = _admin(app)
    response = client.get("/admin/reports?from=2026-02-01&to=2026-01-01")
    assert response.status_code == 400
    assert 'id="period-error"' in response.get_data(as_text=True)
    assert client.get("/admin/reports/totals.csv?currency=ZZZ").status_code == 400


def test_compliance_report_lists_payment_data_reads_and_exports_them(app, people, stack, psp):
    order_id = paid_order(app, people, stack, psp)
    support = app.test_client()
    login(support, "support")
    payment_id = holds(order_id)["Mug"].order.current_payment.id
    assert support.get(f"/support/payments/{payment_id}").status_code == 200
    client = _admin(app)
    html = client.get("/admin/reports/compliance").get_data(as_text=True)
    assert "payment data access" in html and "support@test.example" in html
    rows = _csv(client.get("/admin/reports/compliance.csv"))
    assert rows[0][:3] == ["id", "when (UTC)", "category"]
    viewed = [r for r in rows[1:] if r[6] == "payment.viewed"]
    assert viewed and viewed[0][3] == "support@test.example" and viewed[0][4] == "support"
    assert viewed[0][7] == f"payment:{payment_id}"
    # Logins are not payment-data reads, unless an admin did them (admin actions).
    assert all(r[6] != "auth.login" or r[4] == "admin" for r in rows[1:])
    exported = db.session.execute(select(func.count()).where(
        AuditRecord.action == "compliance.exported")).scalar_one()
    assert exported == 1
