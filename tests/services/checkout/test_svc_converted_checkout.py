"""A mixed EUR + USD cart paid in EUR with German VAT, through the sandbox PSP: each seller is
credited in the item's currency, every currency's postings balance, the margin and the tax
have their accounts, and a refund goes back at the order's rate."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from app.clock import now
from app.domain.ledger import AccountKind
from app.extensions import db
from app.models import EscrowHold, LedgerEntry, Order, User
from app.services.audit import Actor
from app.services.errors import ServiceError
from app.services.money import fx, ledger
from app.services.money.ledger_checks import check_all
from app.services.refunds import refunds
from app.services.shop import tax
from tests.flows import add, buyer_pays, latest_payment, login, psp_call, settle

ADMIN = Actor("admin@test.example", "127.0.0.1")
SUPPORT = Actor("support@test.example", "127.0.0.1")
# Demo rates (data/fx/eurofxref-daily.xml): 1 EUR = 1.0850 USD; margin 1.5 % (FX_MARGIN_BPS).
# Board 59.00 USD → 54.38 EUR at mid, 55.19 with the margin (0.81); mug 24.00 EUR.
# German VAT 19 %: 4.56 on the mug, 10.49 on the board → total 94.24 EUR.
TOTAL = 2400 + 456 + 5519 + 1049


@pytest.fixture
def rates(app, monkeypatch):
    monkeypatch.setitem(app.config, "FX_MARGIN_BPS", 150)
    fx.refresh(ADMIN)
    tax.import_csv("DE,standard,19\nUS,standard,7.25\n", ADMIN)


def set_country(user_id: int, country: str | None) -> None:
    db.session.get(User, user_id).country = country
    db.session.commit()


def place(client, currency="EUR", **extra) -> int:
    response = client.post("/checkout", data={"currency": currency, "convert": "y", **extra})
    assert response.status_code == 303, response.get_data(as_text=True)[:300]
    return int(response.headers["Location"].rstrip("/").split("/")[-1])


def pay(client, stack, psp, order_id: int):
    response = client.post(f"/checkout/{order_id}/pay", data={"mode": "hosted"})
    assert response.status_code == 303
    payment = latest_payment(order_id)
    buyer_pays(stack["psp_url"], payment.psp_reference)
    settle(psp)
    payment = latest_payment(order_id)
    assert payment.status == "captured"
    return payment


def per_currency_sums() -> dict[str, int]:
    sums: dict[str, int] = {}
    for entry in db.session.execute(select(LedgerEntry)).scalars():
        sums[entry.currency] = sums.get(entry.currency, 0) + entry.amount
    return sums


def test_mixed_cart_paid_in_eur_credits_each_seller_in_their_currency(
        client, people, stack, psp, rates):
    set_country(people["buyer"], "DE")
    login(client, "buyer")
    add(client, people["mug"])
    add(client, people["board"])
    order_id = place(client)
    order = db.session.get(Order, order_id)
    assert (order.currency, order.total_amount, order.tax_amount) == ("EUR", TOTAL, 456 + 1049)
    assert order.fx_rates_date == date(2026, 12, 4) and order.fx_margin_bps == 150
    board = next(line for line in order.lines if line.currency == "USD")
    assert (board.line_total, board.presentment_amount, board.fx_margin) == (5900, 5519, 81)
    assert board.fx_rate.startswith("0.9354")  # 1/1.085 × 1.015

    payment = pay(client, stack, psp, order_id)
    # The sandbox's own record: one EUR payment of the whole amount.
    session = psp_call(stack["psp_url"], "GET",
                       f"/v1/payment_sessions/{payment.psp_reference}").json()
    assert (session["currency"].upper(), session["amount_captured"]) == ("EUR", TOTAL)

    holds = {h.currency: h for h in db.session.execute(select(EscrowHold).where(
        EscrowHold.order_id == order_id)).scalars()}
    assert holds["EUR"].gross_amount == 2400 and holds["USD"].gross_amount == 5900
    assert ledger.balance(AccountKind.ESCROW, str(people["seller"]), "USD") == 5900
    assert ledger.balance(AccountKind.ESCROW, str(people["seller"]), "EUR") == 2400
    assert ledger.balance(AccountKind.FX_MARGIN, "", "EUR") == 81
    assert ledger.balance(AccountKind.TAX_PAYABLE, "DE", "EUR") == 1505
    assert ledger.balance(AccountKind.FX_CONVERSION, "", "EUR") == 5438
    assert ledger.balance(AccountKind.FX_CONVERSION, "", "USD") == -5900
    assert set(per_currency_sums().values()) == {0}
    assert check_all() == []

    page = client.get(f"/orders/{order_id}").get_data(as_text=True)
    assert "1 USD = 0.935" in page and "VAT DE 19 %" in page and "94.24" in page

    # Refund in full: the buyer gets back exactly what they paid, at the order's rate.
    refund = refunds.request_refund(payment.id, reason="changed mind", actor=SUPPORT,
                                    by="support")
    settle(psp)
    assert refund.status == "succeeded" and refund.amount == TOTAL
    session = psp_call(stack["psp_url"], "GET",
                       f"/v1/payment_sessions/{payment.psp_reference}").json()
    assert session["amount_refunded"] == TOTAL
    for kind, cur in [(AccountKind.ESCROW, "USD"), (AccountKind.ESCROW, "EUR"),
                      (AccountKind.FX_MARGIN, "EUR"), (AccountKind.FX_CONVERSION, "USD")]:
        owner = str(people["seller"]) if kind == AccountKind.ESCROW else ""
        assert ledger.balance(kind, owner, cur) == 0, (kind, cur)
    assert ledger.balance(AccountKind.TAX_PAYABLE, "DE", "EUR") == 0
    assert set(per_currency_sums().values()) == {0}
    assert check_all() == []

    report = {(r.country, r.currency): r for r in tax.report(date(2000, 1, 1),
                                                            now().date() + timedelta(days=1))}
    assert (report[("DE", "EUR")].collected, report[("DE", "EUR")].refunded) == (1505, 1505)


def test_a_line_refunded_in_parts_in_its_own_currency(
        client, people, stack, psp, rates):
    login(client, "buyer")
    add(client, people["mug"])
    add(client, people["board"])
    payment = pay(client, stack, psp, place(client))
    order = db.session.get(Order, payment.order_id)
    board = next(line for line in order.lines if line.currency == "USD")
    first = refunds.request_refund(payment.id, lines={board.id: 2000}, reason="scratched",
                                   actor=SUPPORT, by="support")
    second = refunds.request_refund(payment.id, lines={board.id: 3900}, reason="returned",
                                    actor=SUPPORT, by="support")
    # No tax (no country): the two parts return exactly the board's 55.19 EUR.
    assert first.amount + second.amount == 5519
    assert ledger.balance(AccountKind.ESCROW, str(people["seller"]), "USD") == 0
    assert ledger.balance(AccountKind.FX_MARGIN, "", "EUR") == 0
    assert set(per_currency_sums().values()) == {0}
    assert check_all() == []


def test_a_vat_number_is_checked_and_a_foreign_business_pays_no_vat(
        client, people, stack, psp, rates):
    set_country(people["buyer"], "DE")
    login(client, "buyer")
    add(client, people["mug"])
    response = client.post("/checkout", data={"currency": "EUR", "vat_number": "DE123"})
    assert response.status_code == 303  # back to the cart with the reason
    assert "not a valid EU VAT number" in client.get("/cart").get_data(as_text=True)
    order_id = place(client, vat_number="DE 136 695 976")
    order = db.session.get(Order, order_id)
    assert order.reverse_charge and order.vat_number == "DE136695976"
    assert order.tax_amount == 0 and order.total_amount == 2400


def test_no_rates_no_conversion_and_stale_rates_refused(client, people, app, monkeypatch):
    login(client, "buyer")
    add(client, people["mug"])
    add(client, people["board"])
    response = client.post("/checkout", data={"currency": "EUR", "convert": "y"})
    assert response.status_code == 303
    assert "not available right now" in client.get("/cart").get_data(as_text=True)
    fx.refresh(ADMIN)
    monkeypatch.setitem(app.config, "FX_MAX_AGE_DAYS", 1)
    client.post("/checkout", data={"currency": "EUR", "convert": "y"})
    assert "out of date" in client.get("/cart").get_data(as_text=True)
    assert db.session.execute(select(Order)).first() is None


def test_support_refunds_a_converted_line_in_its_currency_from_the_form(
        app, client, people, stack, psp, rates):
    from tests.blueprints.test_bp_refunds import _confirm, _html

    set_country(people["buyer"], "DE")
    login(client, "buyer")
    add(client, people["mug"])
    add(client, people["board"])
    payment = pay(client, stack, psp, place(client))
    board = next(line for line in db.session.get(Order, payment.order_id).lines
                 if line.currency == "USD")
    support = app.test_client()
    login(support, "support")
    url = f"/support/payments/{payment.id}/refunds"
    data = {f"line_{board.id}": "59.00", "amount": "", "reason": "never arrived"}
    preview = _html(support.post(url, data={**data, "step": "preview"}))
    # The buyer gets the board's 55.19 + 10.49 VAT back in EUR; the seller gives 59.00 USD.
    assert "Confirm refund of €65.68" in preview and "$59.00" in preview
    assert _confirm(support, url, data).status_code == 303
    assert ledger.balance(AccountKind.ESCROW, str(people["seller"]), "USD") == 0
    assert ledger.balance(AccountKind.TAX_PAYABLE, "DE", "EUR") == 456
    assert set(per_currency_sums().values()) == {0}
    assert check_all() == []


def test_any_amount_in_the_buyers_currency_splits_over_lines_currencies_and_tax(
        client, people, stack, psp, rates):
    set_country(people["buyer"], "DE")
    login(client, "buyer")
    add(client, people["mug"])
    add(client, people["board"])
    payment = pay(client, stack, psp, place(client))
    order = db.session.get(Order, payment.order_id)
    mug, board = sorted(order.lines, key=lambda line: line.currency)  # EUR, USD
    with pytest.raises(ServiceError, match="At most €94.24"):
        refunds.plan(payment.id, amount=TOTAL + 1)

    preview = refunds.plan(payment.id, amount=3333)
    assert preview.total == 3333  # exactly what support typed, in the buyer's currency
    parts = {p.order_line_id: p for p in preview.lines}
    # Spread in proportion to what each line can still return (28.56 and 65.68 EUR).
    assert parts[mug.id].paid + parts[board.id].paid == 3333
    # The mug is in EUR: its part is net + VAT; the board's in USD at the order's rate.
    assert parts[mug.id].amount + parts[mug.id].paid_tax == parts[mug.id].paid
    assert parts[board.id].amount == round(5900 * parts[board.id].paid / 6568)

    first = refunds.request_refund(payment.id, amount=3333, reason="late", actor=SUPPORT,
                                   by="support")
    settle(psp)
    assert first.status == "succeeded" and first.amount == 3333
    tax_back = sum(line.paid_tax for line in first.lines)
    assert ledger.balance(AccountKind.TAX_PAYABLE, "DE", "EUR") == 1505 - tax_back
    assert set(per_currency_sums().values()) == {0}
    assert check_all() == []

    # An odd amount, then the rest: the buyer gets back exactly what they paid, each seller
    # gives back exactly their line, the tax owed for the order is zero again.
    refunds.request_refund(payment.id, amount=1, reason="goodwill", actor=SUPPORT, by="support")
    rest = refunds.request_refund(payment.id, reason="returned", actor=SUPPORT, by="support")
    settle(psp)
    assert first.amount + 1 + rest.amount == TOTAL
    session = psp_call(stack["psp_url"], "GET",
                       f"/v1/payment_sessions/{payment.psp_reference}").json()
    assert session["amount_refunded"] == TOTAL
    assert ledger.balance(AccountKind.ESCROW, str(people["seller"]), "USD") == 0
    assert ledger.balance(AccountKind.ESCROW, str(people["seller"]), "EUR") == 0
    assert ledger.balance(AccountKind.TAX_PAYABLE, "DE", "EUR") == 0
    assert ledger.balance(AccountKind.FX_MARGIN, "", "EUR") == 0
    assert set(per_currency_sums().values()) == {0}
    assert check_all() == []


def test_support_previews_an_amount_in_both_currencies_from_the_form(
        app, client, people, stack, psp, rates):
    from tests.blueprints.test_bp_refunds import _confirm, _html

    set_country(people["buyer"], "DE")
    login(client, "buyer")
    add(client, people["mug"])
    add(client, people["board"])
    payment = pay(client, stack, psp, place(client))
    support = app.test_client()
    login(support, "support")
    url = f"/support/payments/{payment.id}/refunds"
    data = {"amount": "20.00", "reason": "partly damaged"}
    preview = _html(support.post(url, data={**data, "step": "preview"}))
    assert "Confirm refund of €20.00" in preview
    # The board's part shows the seller's dollars at the order's rate and the VAT in it.
    assert "from the seller at the order" in preview and "$" in preview
    assert "of which tax" in preview
    assert _confirm(support, url, data).status_code == 303
    assert payment.amount_refunded == 2000
    assert set(per_currency_sums().values()) == {0}
    assert check_all() == []


def test_the_seller_previews_a_converted_line_in_both_currencies(
        app, client, people, stack, psp, rates):
    from tests.blueprints.test_bp_refunds import _confirm, _html

    set_country(people["buyer"], "DE")
    login(client, "buyer")
    add(client, people["mug"])
    add(client, people["board"])
    payment = pay(client, stack, psp, place(client))
    board = next(line for line in db.session.get(Order, payment.order_id).lines
                 if line.currency == "USD")
    seller = app.test_client()
    login(seller, "seller")
    url = f"/seller/lines/{board.id}/refund"
    data = {"amount": "10.00", "reason": "scratched"}
    html = _html(seller.post(url, data={**data, "step": "preview"}))
    # 10.00 USD of the board's 59.00: the buyer gets 10/59 of 55.19 + 10.49 EUR back.
    back = round(6568 * 1000 / 5900)
    assert f"Confirm refund of €{back / 100:.2f}" in html
    assert "$10.00 from you at the order" in html and 'data-kind="from_escrow">$10.00' in html
    assert "of which tax €1.78" in html
    assert _confirm(seller, url, data).status_code == 303
    assert ledger.balance(AccountKind.ESCROW, str(people["seller"]), "USD") == 4900
    assert set(per_currency_sums().values()) == {0}
    assert check_all() == []
