"""The seller dashboard: htmx partials, own money only, payouts, settings, the CSV statement."""
from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.blueprints.seller.statement import csv_cell
from app.clock import now
from app.extensions import db, queues
from app.models import LedgerTransaction, Payout, PayoutSettings
from app.services.form_intents import mint
from tests.blueprints.money_steps import (
    CLOSED_IBAN,
    add_bank_account,
    holds,
    paid_order,
    release,
    settle_payouts,
)
from tests.flows import form_key, login

HTMX = {"HX-Request": "true"}
PARTIALS = {"/seller/balances": 'id="balances"', "/seller/to-ship": 'id="to-ship"',
            "/seller/escrow": 'id="escrow"', "/seller/payouts": 'id="payouts"',
            "/seller/payout-settings": 'id="payout-settings"', "/seller/fees": 'id="fees"',
            "/seller/chart": 'id="chart"'}


def pay_out(client, **kwargs):
    """Press "Pay out now" for EUR, as the dashboard's form sends it (with its one-time key)."""
    return client.post("/seller/payouts", data={"currency": "EUR", "intent": mint()}, **kwargs)


@pytest.fixture
def seller(app, people):
    """A client logged in as the first seller (mug, board)."""
    client = app.test_client()
    login(client, "seller")
    return client


def _html(response) -> str:
    return response.get_data(as_text=True)


def _stat(html: str, currency: str, kind: str) -> str:
    block = html.split(f'data-currency="{currency}"', 1)[1]
    return re.search(rf'data-kind="{kind}"><dl><dt>[^<]+</dt><dd>([^<]+)</dd>', block).group(1)


def test_dashboard_shows_own_escrow_with_reason_and_not_the_other_sellers(
        app, seller, people, stack, psp):
    order_id = paid_order(app, people, stack, psp)
    html = _html(seller.get("/seller"))
    assert _stat(html, "EUR", "escrow") == "€48.00"
    assert _stat(html, "EUR", "available") == "€0.00"
    assert "Held until the seller ships and the buyer confirms receipt" in html
    assert f"Mug · order #{order_id}" in html and "Candle" not in html
    assert "€43.20" in html and "€4.80" in html  # net and fee of the line
    assert 'href="/seller/bank-account"' in html and "Your items" in html

    other = app.test_client()
    login(other, "other_seller")
    theirs = _html(other.get("/seller"))
    assert _stat(theirs, "EUR", "escrow") == "€16.90"
    assert "Candle" in theirs and "Mug" not in theirs.split("Your items")[0]


@pytest.mark.parametrize("url", PARTIALS)
def test_partials_answer_htmx_with_the_fragment_and_others_with_the_page(
        seller, people, url):
    fragment = seller.get(url, headers=HTMX)
    assert fragment.status_code == 200
    assert PARTIALS[url] in _html(fragment) and "<html" not in _html(fragment)
    assert "HX-Request" in fragment.headers["Vary"]
    page = seller.get(url)
    assert page.status_code == 200 and "<html" in _html(page)
    assert all(marker in _html(page) for marker in PARTIALS.values())


@pytest.mark.parametrize("who", ["buyer", "support"])
def test_only_sellers_reach_the_dashboard(client, people, who):
    login(client, who)
    for url in [*PARTIALS, "/seller", "/seller/statement.csv"]:
        assert client.get(url).status_code == 403
    assert pay_out(client).status_code == 403
    assert client.post("/seller/payout-settings", data={}).status_code == 403


def test_pay_out_now_without_a_bank_account_says_what_to_do(app, seller, people, stack, psp):
    release(holds(paid_order(app, people, stack, psp))["Mug"].id)
    response = pay_out(seller, headers=HTMX)
    assert response.status_code == 409
    assert "Add a bank account before asking for a payout." in _html(response)
    assert 'id="payouts"' in _html(response) and "<html" not in _html(response)
    assert db.session.execute(select(Payout)).first() is None
    assert _stat(_html(seller.get("/seller")), "EUR", "available") == "€43.20"


def test_pay_out_now_with_nothing_available_is_refused(seller, people):
    add_bank_account(people["seller"])
    response = pay_out(seller, headers=HTMX)
    assert response.status_code == 409 and "Nothing is available to pay out in EUR" in \
        _html(response)
    assert seller.post("/seller/payouts", data={"currency": "XX1"},
                       headers=HTMX).status_code == 400


def test_pay_out_now_books_queues_and_the_payout_is_paid(app, seller, people, stack, psp):
    release(holds(paid_order(app, people, stack, psp))["Mug"].id)
    add_bank_account(people["seller"])
    response = pay_out(seller, headers=HTMX)
    assert response.status_code == 200
    assert response.headers["HX-Trigger"] == "balances-changed"
    assert "Payout of €43.20 is on its way to •••• 3000." in _html(response)
    [payout] = db.session.execute(select(Payout)).scalars().all()
    assert (payout.amount, payout.status) == (4320, "pending")
    assert f"payout-submit-{payout.id}" in queues.queue.job_ids
    assert "watching=1" in _html(response)  # the pending payout polls for its outcome
    assert _stat(_html(seller.get("/seller/balances", headers=HTMX)), "EUR", "in_transit") \
        == "€43.20"

    [payout] = settle_payouts(psp)
    assert payout.status == "paid"
    polled = seller.get("/seller/payouts?watching=1", headers=HTMX)
    assert polled.headers["HX-Trigger"] == "balances-changed"
    assert "watching=1" not in _html(polled) and "badge-paid" in _html(polled)
    balances = _html(seller.get("/seller/balances", headers=HTMX))
    assert _stat(balances, "EUR", "paid_out") == "€43.20"
    assert _stat(balances, "EUR", "available") == "€0.00"
    assert 'role="alert"' not in balances


def test_a_failed_payout_shows_its_reason_and_the_money_is_available_again(
        app, people, stack, psp):
    release(holds(paid_order(app, people, stack, psp))["Candle"].id)
    add_bank_account(people["other_seller"], CLOSED_IBAN)
    other = app.test_client()
    login(other, "other_seller")
    assert pay_out(other).status_code == 303
    [payout] = settle_payouts(psp)
    assert payout.status == "failed"
    html = _html(other.get("/seller"))
    alert = html.split('class="alert alert-error" role="alert"', 1)[1].split("</div>", 1)[0]
    assert "Your payout of €15.21" in alert and "account is closed" in alert
    assert 'href="/seller/bank-account"' in alert
    assert _stat(html, "EUR", "available") == "€15.21"
    # The first seller sees none of it.
    first = app.test_client()
    login(first, "seller")
    assert "account is closed" not in _html(first.get("/seller"))


def test_a_plain_form_post_redirects_back_with_a_message(seller):
    response = pay_out(seller)
    assert response.status_code == 303 and response.headers["Location"].endswith("/seller")
    assert "Nothing is available to pay out in EUR." in _html(seller.get("/seller"))


def _settings(seller_id: int) -> PayoutSettings | None:
    db.session.expire_all()
    return db.session.get(PayoutSettings, seller_id)


def test_payout_settings_are_saved(seller, people):
    html = _html(seller.get("/seller/payout-settings", headers=HTMX))
    assert 'value="1.00"' in html  # the default minimum, shown before any row exists
    assert _settings(people["seller"]) is None
    response = seller.post("/seller/payout-settings", headers=HTMX, data={
        "schedule": "weekly", "weekday": "4", "minimum": "25.50"})
    assert response.status_code == 200 and "Payout schedule saved." in _html(response)
    saved = _settings(people["seller"])
    assert (saved.schedule, saved.weekday, saved.minimum_amount) == ("weekly", 4, 2550)
    assert 'value="25.50"' in _html(response)


@pytest.mark.parametrize("data, message", [
    ({"schedule": "hourly", "weekday": "0", "minimum": "10"}, "Not a valid choice"),
    ({"schedule": "daily", "weekday": "7", "minimum": "10"}, "Not a valid choice"),
    ({"schedule": "daily", "weekday": "0", "minimum": "ten"}, "is not an amount"),
    ({"schedule": "daily", "weekday": "0", "minimum": "1.005"}, "at most 2 decimal places"),
    ({"schedule": "daily", "weekday": "0", "minimum": "0"}, "must be more than zero"),
    ({"schedule": "daily", "weekday": "0", "minimum": ""}, "This field is required"),
])
def test_payout_settings_refuse_bad_values(seller, people, data, message):
    response = seller.post("/seller/payout-settings", data=data, headers=HTMX)
    assert response.status_code == 400
    assert message in _html(response) and 'role="alert"' in _html(response)
    assert _settings(people["seller"]) is None


def test_chart_has_a_bar_per_day_and_series(app, seller, people, stack, psp):
    release(holds(paid_order(app, people, stack, psp))["Mug"].id)
    svg = _html(seller.get("/seller/chart?currency=EUR", headers=HTMX))
    for series in ("sales", "fees", "payouts"):
        assert svg.count(f'class="bar bar-{series}"') == 30
    today = now().date().isoformat()
    assert re.search(rf'bar-sales" data-day="{today}"[^>]*>\s*<title>[^<]*Sales: €48.00', svg)
    assert re.search(rf'bar-fees" data-day="{today}"[^>]*>\s*<title>[^<]*Fees: €4.80', svg)


def _release_with_a_paid_payout(app, people, stack, psp) -> int:
    order_id = paid_order(app, people, stack, psp)
    release(holds(order_id)["Mug"].id)
    add_bank_account(people["seller"])
    from app.jobs.payouts import run_payouts

    run_payouts()
    settle_payouts(psp)
    return order_id


def _csv(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    return list(csv.reader(io.StringIO(_html(response))))


def test_statement_lists_every_movement_with_running_balances(app, seller, people, stack, psp):
    order_id = _release_with_a_paid_payout(app, people, stack, psp)
    payout_id = db.session.execute(select(Payout.id)).scalar_one()
    header, *rows = _csv(seller.get("/seller/statement.csv"))
    assert header == ["date", "event", "reference", "account", "amount", "currency", "balance"]
    order, payout = f"order {order_id}", f"payout {payout_id}"
    assert [r[1:] for r in rows] == [
        ["capture", order, "escrow", "48.00", "EUR", "48.00"],
        ["escrow_release", order, "escrow", "-48.00", "EUR", "0.00"],
        ["escrow_release", order, "seller_available", "43.20", "EUR", "43.20"],
        ["payout_sent", payout, "seller_available", "-43.20", "EUR", "0.00"],
        ["payout_sent", payout, "seller_in_transit", "43.20", "EUR", "43.20"],
        ["payout_paid", payout, "seller_in_transit", "-43.20", "EUR", "0.00"],
    ]
    assert all(r[0].startswith(now().date().isoformat()) for r in rows)
    # The other seller's statement has only the candle.
    other = app.test_client()
    login(other, "other_seller")
    assert [r[1:] for r in _csv(other.get("/seller/statement.csv"))[1:]] == [
        ["capture", order, "escrow", "16.90", "EUR", "16.90"]]


def test_statement_date_range_keeps_earlier_movements_in_the_balance(
        app, seller, people, stack, psp):
    order_id = paid_order(app, people, stack, psp)
    earlier = now() - timedelta(days=3)
    db.session.execute(update(LedgerTransaction).where(
        LedgerTransaction.intent.like("capture:%")).values(created_at=earlier))
    db.session.commit()
    release(holds(order_id)["Mug"].id)
    today, day = now().date(), earlier.date().isoformat()

    rows = _csv(seller.get(f"/seller/statement.csv?from={today}&to={today}"))[1:]
    assert [(r[3], r[4], r[6]) for r in rows] == [("escrow", "-48.00", "0.00"),
                                                  ("seller_available", "43.20", "43.20")]
    rows = _csv(seller.get(f"/seller/statement.csv?from={day}&to={day}"))[1:]
    assert [(r[1], r[4]) for r in rows] == [("capture", "48.00")]
    future = (today + timedelta(days=1)).isoformat()
    assert _csv(seller.get(f"/seller/statement.csv?from={future}&to={future}"))[1:] == []
    disposition = seller.get(f"/seller/statement.csv?from={day}&to={today}").headers[
        "Content-Disposition"]
    assert f'filename="holdfast-statement-{day}-to-{today}.csv"' in disposition


@pytest.mark.parametrize("query, message", [
    ("from=2025-13-01", "“from” must be a date written as YYYY-MM-DD"),
    ("to=yesterday", "“to” must be a date written as YYYY-MM-DD"),
    ("from=20250101", "“from” must be a date written as YYYY-MM-DD"),
    ("from=2025-02-01&to=2025-01-01", "The start date is after the end date."),
])
def test_statement_refuses_bad_dates_readably(seller, people, query, message):
    response = seller.get(f"/seller/statement.csv?{query}")
    assert response.status_code == 400
    assert message in _html(response)


@pytest.mark.parametrize("value, cell", [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"), ("+1+1", "'+1+1"),
    ("-cmd|' /C calc'!A0", "'-cmd|' /C calc'!A0"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1", "'\t=1"), ("-48.00", "-48.00"), ("48.00", "48.00"), ("order 12", "order 12"),
    ("", ""),
])
def test_csv_cells_never_start_a_formula(value, cell):
    assert csv_cell(value) == cell


def test_dashboard_forms_carry_the_csrf_token(app, seller, people, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    data = {"schedule": "manual", "weekday": "0", "minimum": "5"}
    assert seller.post("/seller/payout-settings", data=data, headers=HTMX).status_code == 400
    assert _settings(people["seller"]) is None
    html = _html(seller.get("/seller"))
    token = re.search(r'id="payout-settings".*?name="csrf_token"[^>]*value="([^"]+)"', html,
                      re.S).group(1)
    response = seller.post("/seller/payout-settings", data={**data, "csrf_token": token},
                           headers=HTMX)
    assert response.status_code == 200
    assert _settings(people["seller"]).schedule == "manual"


def test_pay_out_now_sent_twice_pays_out_once(app, seller, people, stack, psp):
    release(holds(paid_order(app, people, stack, psp))["Mug"].id)
    add_bank_account(people["seller"])
    key = form_key(_html(seller.get("/seller")), "/seller/payouts")

    first = seller.post("/seller/payouts", data={"currency": "EUR", "intent": key},
                        headers=HTMX)
    # Money released after the press is not what the seller asked to pay out: the same form
    # resent (a double click, a browser retry) must not pay it.
    release(holds(paid_order(app, people, stack, psp))["Mug"].id)
    again = seller.post("/seller/payouts", data={"currency": "EUR", "intent": key},
                        headers=HTMX)

    assert (first.status_code, again.status_code) == (200, 200)
    assert all("Payout of €43.20 is on its way" in _html(a) for a in (first, again))
    assert len(db.session.execute(select(Payout)).scalars().all()) == 1
    assert _stat(_html(seller.get("/seller")), "EUR", "available") == "€43.20"
