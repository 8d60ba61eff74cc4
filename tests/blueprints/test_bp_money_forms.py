"""Forms that read money and choices the way people write them (issue 12): amounts in the
person's locale ("10,00"), errors next to their fields, categories the admin defined, the
payout weekday only for weekly schedules, error pages that lead home."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Item
from app.models.refunds import Refund
from tests.blueprints.money_steps import holds, paid_order
from tests.flows import latest_payment, login

GERMAN = {"Accept-Language": "de-DE,de;q=0.9"}


def _client(app, who: str):
    client = app.test_client()
    login(client, who)
    return client


def _html(response) -> str:
    return response.get_data(as_text=True)


def _described_error(html: str, field_id: str) -> str:
    """The error text the input `field_id` names in its aria-describedby."""
    assert re.search(rf'<input[^>]*id="{field_id}"[^>]*aria-describedby="[^"]*'
                     rf'{field_id}-error', html) or re.search(
        rf'<input[^>]*aria-describedby="[^"]*{field_id}-error[^>]*id="{field_id}"', html), html
    found = re.search(rf'id="{field_id}-error">([^<]*)<', html)
    assert found, html
    return found.group(1)


@pytest.fixture
def order(app, people, stack, psp) -> int:
    """A captured order: 2 mugs (seller, 48.00) and a candle (other seller, 16.90)."""
    return paid_order(app, people, stack, psp)


def test_a_seller_refunds_ten_euros_written_with_a_decimal_comma(app, people, order):
    mug = holds(order)["Mug"]
    seller = _client(app, "seller")
    url = f"/seller/lines/{mug.order_line_id}/refund"
    assert 'value="48,00"' in _html(seller.get(url, headers=GERMAN))  # prefilled as typed
    preview = seller.post(url, data={"amount": "10,00", "reason": "chipped", "step": "preview"})
    assert preview.status_code == 200 and "Confirm refund of €10.00" in _html(preview)
    intent = re.search(r'name="intent"[^>]*value="([^"]+)"', _html(preview)).group(1)
    seller.post(url, data={"amount": "10,00", "reason": "chipped", "step": "confirm",
                           "intent": intent})
    db.session.expire_all()
    assert [r.amount for r in db.session.execute(select(Refund)).scalars()] == [1000]


def test_the_money_filter_follows_the_browser_locale(app, people, order):
    buyer = _client(app, "buyer")
    assert "€64.90" in _html(buyer.get(f"/orders/{order}"))
    assert "64,90\u00a0€" in _html(buyer.get(f"/orders/{order}", headers=GERMAN))


def test_a_refund_over_what_is_left_is_said_next_to_the_amount(app, people, order):
    mug = holds(order)["Mug"]
    seller = _client(app, "seller")
    answer = seller.post(f"/seller/lines/{mug.order_line_id}/refund",
                         data={"amount": "99.00", "reason": "x", "step": "preview"})
    assert answer.status_code == 400
    assert _described_error(_html(answer), "amount") == \
        "At most €48.00 of “Mug” can still be refunded."


def test_support_refund_errors_stay_next_to_the_field_with_what_was_typed(app, people, order):
    payment = latest_payment(order)
    candle = holds(order)["Candle"]
    support = _client(app, "support")
    field = f"line_{candle.order_line_id}"
    answer = support.post(f"/support/payments/{payment.id}/refunds",
                          data={field: "ten", "reason": "wick", "step": "preview"})
    assert answer.status_code == 400
    html = _html(answer)
    assert "is not an amount" in _described_error(html, f"refund-line-{candle.order_line_id}")
    assert 'value="ten"' in html and 'value="wick"' in html
    over = support.post(f"/support/payments/{payment.id}/refunds",
                        data={field: "500.00", "reason": "wick", "step": "preview"})
    assert over.status_code in (400, 409)
    assert _described_error(_html(over), f"refund-line-{candle.order_line_id}")


def test_sellers_choose_from_the_admins_categories(app, people):
    admin = _client(app, "admin")
    added = admin.post("/admin/categories", data={"name": "Ceramics"})
    assert added.status_code == 303
    again = admin.post("/admin/categories", data={"name": "ceramics"})
    assert again.status_code == 409 and "already a category" in _described_error(
        _html(again), "name")

    seller = _client(app, "seller")
    form = _html(seller.get("/seller/items/new"))
    assert re.search(r'<select[^>]*name="category"', form)
    assert '<option value="ceramics">Ceramics</option>' in form
    data = {"title": "Bowl", "description": "", "price": "24,90", "currency": "EUR",
            "stock": "2", "active": "y"}
    refused = seller.post("/seller/items/new", data=data | {"category": "made-up"})
    assert refused.status_code == 400 and "Not a valid choice" in _html(refused)
    created = seller.post("/seller/items/new", data=data | {"category": "ceramics"})
    assert created.status_code == 303
    bowl = db.session.execute(select(Item).where(Item.title == "Bowl")).scalar_one()
    assert (bowl.category, bowl.price_amount) == ("ceramics", 2490)


def test_the_weekday_picker_shows_only_for_a_weekly_schedule(app, people):
    seller = _client(app, "seller")
    daily = _html(seller.get("/seller"))
    assert re.search(r"<div data-payout-weekday hidden>", daily)
    seller.post("/seller/payout-settings", data={"schedule": "weekly", "weekday": "4",
                                                 "minimum": "10,50"})
    weekly = _html(seller.get("/seller"))
    assert re.search(r"<div data-payout-weekday>", weekly)
    assert 'value="10.50"' in weekly


@pytest.mark.parametrize("who, home, words", [
    ("buyer", "/", "Back to the shop"),
    ("seller", "/seller", "Back to your dashboard"),
    ("support", "/support/disputes", "Back to the dispute centre"),
])
def test_not_found_leads_to_the_persons_own_home(app, people, who, home, words):
    client = _client(app, who)
    html = _html(client.get("/no-such-page"))
    assert f'<a href="{home}">{words}</a>' in html


def test_the_bank_page_links_back_to_the_dashboard(app, people):
    assert '<a href="/seller">← Dashboard</a>' in _html(
        _client(app, "seller").get("/seller/bank-account"))


def test_an_iban_with_a_wrong_checksum_is_refused_next_to_the_iban(app, people):
    seller = _client(app, "seller")
    answer = seller.post("/seller/bank-account", data={
        "holder_name": "Test Seller", "iban": "DE89370400440532013001",
        "password": "correct-horse-battery"})
    assert answer.status_code == 400
    assert "check digits" in _described_error(_html(answer), "iban")


def test_sellers_choose_a_tax_category(app, people):
    seller = _client(app, "seller")
    form = _html(seller.get("/seller/items/new"))
    assert '<option value="digital">Digital services</option>' in form
    data = {"title": "E-book", "description": "", "price": "9.90", "currency": "EUR",
            "stock": "5", "active": "y", "category": "general"}
    refused = seller.post("/seller/items/new", data=data | {"tax_category": "luxury"})
    assert refused.status_code == 400 and "Not a valid choice" in _html(refused)
    assert seller.post("/seller/items/new",
                       data=data | {"tax_category": "digital"}).status_code == 303
    book = db.session.execute(select(Item).where(Item.title == "E-book")).scalar_one()
    assert book.tax_category == "digital"
