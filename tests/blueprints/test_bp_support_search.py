"""Support's one search box and a payment's timeline page."""
from __future__ import annotations

from app.extensions import db
from app.models import Payment
from tests.blueprints.money_steps import holds, paid_order
from tests.flows import login


def _support(app):
    client = app.test_client()
    login(client, "support")
    return client


def _payment(order_id: int) -> Payment:
    return holds(order_id)["Mug"].order.current_payment


def test_finds_a_payment_by_the_buyers_email_in_one_search(app, people, stack, psp):
    order_id = paid_order(app, people, stack, psp)
    other = paid_order(app, people, stack, psp, buyer="other_buyer")
    payment = _payment(order_id)
    client = _support(app)
    html = client.get("/support/search?q=BUYER@test.example").get_data(as_text=True)
    assert f'href="/support/payments/{payment.id}"' in html
    assert f'href="/support/payments/{_payment(other).id}"' not in html
    # A seller's e-mail finds both orders (both have the seller's mugs).
    html = client.get("/support/search?q=seller@test.example").get_data(as_text=True)
    assert f"Payment #{payment.id}<" in html and f"Payment #{_payment(other).id}<" in html


def test_finds_by_reference_number_card_amount_and_date(app, people, stack, psp):
    order_id = paid_order(app, people, stack, psp)
    payment = _payment(order_id)
    db.session.refresh(payment)
    assert payment.card_last4 == "4242" and payment.card_exp_month
    expiry = f"{payment.card_exp_month:02d}/{payment.card_exp_year % 100:02d}"
    client = _support(app)
    for q in (payment.psp_reference, f"#{order_id}", str(payment.id),
              f"visa 4242 {expiry}", "64.90", payment.created_at.date().isoformat(),
              f"buyer@test.example 64.90 {payment.created_at.date().isoformat()}"):
        html = client.get("/support/search", query_string={"q": q}).get_data(as_text=True)
        assert f"Payment #{payment.id}<" in html, q
    for q in ("visa 4242 01/20", "12.34", "nobody@test.example"):
        html = client.get("/support/search", query_string={"q": q}).get_data(as_text=True)
        assert "No payment matches." in html, q
    response = client.get("/support/search?q=%3Cscript%3E")
    assert response.status_code == 400 and 'id="q-error"' in response.get_data(as_text=True)


def test_results_page_with_a_keyset_cursor_and_keep_the_search(app, people, stack, psp,
                                                               monkeypatch):
    from app.services.payments import lookup

    first, second = (paid_order(app, people, stack, psp) for _ in range(2))
    monkeypatch.setattr(lookup.search, "__defaults__", (1,))
    client = _support(app)
    html = client.get("/support/search?q=buyer@test.example").get_data(as_text=True)
    assert f"Payment #{_payment(second).id}<" in html
    assert f"Payment #{_payment(first).id}<" not in html
    link = html.split('rel="next" href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    assert "q=buyer@test.example" in link and "after=" in link
    html = client.get(link).get_data(as_text=True)
    assert f"Payment #{_payment(first).id}<" in html and 'rel="next"' not in html
    assert client.get("/support/search?q=buyer@test.example&after=!!").status_code == 400


def test_timeline_shows_status_webhooks_ledger_and_audit_on_one_page(app, people, stack, psp):
    order_id = paid_order(app, people, stack, psp)
    payment = _payment(order_id)
    html = _support(app).get(f"/support/payments/{payment.id}").get_data(as_text=True)
    timeline = html.split('id="payment-timeline"', 1)[1].split("</table>", 1)[0]
    for kind in ("status", "psp-call", "webhook", "ledger", "audit"):
        assert f'data-kind="{kind}"' in timeline, kind
    assert f"Idempotency-Key {payment.idempotency_key}" in timeline
    assert "capture (EUR)" in timeline and "payment.viewed by support@test.example" in timeline
