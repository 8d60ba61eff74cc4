"""/support/reconciliation: staff import a day and watch its progress (htmx partial), see
clearing per day and the differences with filters, export them as CSV, assign, annotate and
resolve one — the page says what resolving posts, and a bad form is answered, not applied."""
from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models.reconciliation import Difference
from tests.flows import latest_payment, login, paid_order, psp_call, run_jobs
from tests.services.reconciliation.recon_steps import forget_psp_movements, today


@pytest.fixture(autouse=True)
def _own_sandbox_day(psp):
    forget_psp_movements(psp)


def staff_client(app, who="support"):
    client = app.test_client()
    login(client, who)
    return client


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def import_today(staff) -> str:
    page = staff.get("/support/reconciliation").get_data(as_text=True)
    answer = staff.post("/support/reconciliation/imports", data={
        "csrf_token": csrf(page), "provider": "sandbox", "day": today()})
    assert answer.status_code == 303 and "watch=" in answer.headers["Location"]
    import_id = answer.headers["Location"].split("watch=")[1]
    running = staff.get(f"/support/reconciliation/imports/{import_id}",
                        headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'id="import-progress"' in running and "<html" not in running
    assert 'hx-trigger="every 1s"' in running  # queued: the partial keeps polling
    run_jobs()
    done = staff.get(f"/support/reconciliation/imports/{import_id}",
                     headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'data-status="done"' in done and "every 1s" not in done
    return staff.get("/support/reconciliation").get_data(as_text=True)


def test_a_clean_day_shows_no_differences_and_clearing_at_zero(app, client, people, stack, psp):
    paid_order(client, people, stack, psp, {"mug": 1})
    page = import_today(staff_client(app))
    assert '<strong id="unresolved-count">0</strong>' in page
    assert f'data-day="{today()}" data-provider="sandbox" data-currency="EUR" data-amount="0"' in page
    assert "No differences to resolve." in page and "<svg" in page


def test_a_changed_fee_is_listed_exported_assigned_noted_and_resolved(
        app, client, people, stack, psp):
    payment = latest_payment(paid_order(client, people, stack, psp, {"mug": 1}))
    psp_call(stack["psp_url"], "POST",
             f"/v1/test_helpers/payment_sessions/{payment.psp_reference}/fee",
             {"fee": payment.psp_fee_amount + 10})
    staff = staff_client(app)
    page = import_today(staff)
    assert '<strong id="unresolved-count">1</strong>' in page
    assert 'data-kind="fee_mismatch"' in page
    assert 'data-kind="fee_mismatch"' not in staff.get(
        "/support/reconciliation?kind=unknown_object").get_data(as_text=True)

    exported = staff.get("/support/reconciliation/differences.csv?status=open")
    assert exported.mimetype == "text/csv"
    [row] = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    assert (row["kind"], row["source"], row["psp_fee"]) == (
        "fee_mismatch", payment.psp_reference, str(payment.psp_fee_amount + 10))

    diff = db.session.execute(select(Difference)).scalar_one()
    url = f"/support/reconciliation/differences/{diff.id}"
    detail = staff.get(url).get_data(as_text=True)
    assert "Post the fee difference to PSP fees" in detail
    token = csrf(detail)
    staff.post(f"{url}/assign", data={"csrf_token": token, "staff_id": people["support"]})
    staff.post(f"{url}/note", data={"csrf_token": token, "body": "Asked the PSP why"})
    refused = staff.post(f"{url}/resolve", data={"csrf_token": token, "correct": "1",
                                                 "reason": ""}, follow_redirects=True)
    assert "Say why this is resolved." in refused.get_data(as_text=True)
    db.session.expire_all()
    diff = db.session.get(Difference, diff.id)
    assert diff.status == "open" and diff.assigned_to == people["support"]
    assert "Asked the PSP why" in diff.note

    staff.post(f"{url}/resolve", data={"csrf_token": token, "correct": "1",
                                       "reason": "Re-rated by the PSP"})
    db.session.expire_all()
    assert db.session.get(Difference, diff.id).status == "resolved"
    after = staff.get("/support/reconciliation").get_data(as_text=True)
    assert '<strong id="unresolved-count">0</strong>' in after
    assert f'data-day="{today()}" data-provider="sandbox" data-currency="EUR" data-amount="0"' in after


def test_buyers_and_sellers_never_reach_it(app, people):
    for who in ("buyer", "seller"):
        assert staff_client(app, who).get("/support/reconciliation").status_code == 403
