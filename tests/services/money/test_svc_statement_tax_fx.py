"""A seller statement of a converted and taxed sale: each movement shows the buyer's amount in
their currency, the rate frozen on the order and the tax on top; the tax collected for the
buyer's country is listed apart with how it is treated; the equation still adds up in the
seller's currency, and the issued files verify."""
from __future__ import annotations

from datetime import timedelta

import pytest

from app import clock
from app.clock import now
from app.extensions import db
from app.models import Order
from app.services.audit import Actor
from app.services.money import statement_issue, statements
from app.services.refunds import refunds
from app.statement_verify import main as verify_main
from tests.blueprints.money_steps import holds, release
from tests.flows import add, login, settle
from tests.services.checkout.test_svc_converted_checkout import (  # noqa: F401  (fixture)
    pay,
    place,
    rates,
    set_country,
)

SELLER = Actor("seller@test.example", "127.0.0.1")
SUPPORT = Actor("support@test.example", "127.0.0.1")


@pytest.mark.usefixtures("rates")
def test_a_converted_taxed_sale_and_its_refund_on_the_usd_statement(
        app, client, people, stack, psp, tmp_path, capsys):
    set_country(people["buyer"], "DE")
    login(client, "buyer")
    add(client, people["mug"])
    add(client, people["board"])
    payment = pay(client, stack, psp, place(client))
    order = db.session.get(Order, payment.order_id)
    board = next(line for line in order.lines if line.currency == "USD")
    # 9.00 USD go back from escrow before the release: never on the seller's balance, so the
    # sale is shown for what was released, on both sides.
    early = refunds.request_refund(payment.id, lines={board.id: 900}, reason="dent",
                                   actor=SUPPORT, by="support")
    settle(psp)
    early_tax = early.lines[0].paid_tax
    early_net = early.lines[0].paid - early_tax
    release(holds(order.id)[board.title].id)
    # After release, the seller refunds 20.00 USD of the board: it leaves their USD balance.
    made = refunds.request_refund(payment.id, lines={board.id: 2000}, reason="scratched",
                                  actor=SUPPORT, by="support")
    fee_returned = made.lines[0].fee_returned
    settle(psp)
    clock.timestamp.advance(timedelta(days=32).total_seconds())
    month = f"month:{(now() - timedelta(days=32)).strftime('%Y-%m')}"

    statement = statements.build(people["seller"], month, "USD")
    assert [(x.group, x.gross, x.amount) for x in statement.lines] == [
        ("sales", 5000, 5000 - statement.lines[0].fee), ("refunds", 0, statement.lines[1].amount)]
    sale, refund = statement.lines
    assert refund.amount == -(2000 - fee_returned) and refund.description.startswith("Refund")
    # The buyer's side: 55.19 EUR at the order's rate + 10.49 EUR VAT, less what the early
    # refund gave back; the later refund gave back its share of both.
    assert (sale.buyer.currency, sale.buyer.net, sale.buyer.tax) == (
        "EUR", 5519 - early_net, 1049 - early_tax)
    assert sale.buyer.rate.startswith("1 USD = 0.935") and sale.buyer.tax_label == "VAT DE 19 %"
    assert refund.buyer.currency == "EUR" and refund.buyer.tax > 0
    back = refund.buyer.net + refund.buyer.tax
    assert early.amount + back == round(6568 * 2900 / 5900)  # cumulatively, half up
    # Still the seller's equation, in USD, to the cent; the tax is listed apart.
    statement.check()
    assert statement.total("sales") == 5000 and statement.total("refunds") == -refund.amount
    assert statement.tax_summary() == [("VAT DE 19 %", "EUR", 1049 - early_tax,
                                        refund.buyer.tax)]
    assert any("owes them to that country" in note for note in statement.notes)
    assert any("rate frozen on the order" in note for note in statement.notes)

    statement_id = statement_issue.issue(people["seller"], month, "USD", SELLER)
    html = statement_issue.document(people["seller"], statement_id, "html").content
    csv_doc = statement_issue.document(people["seller"], statement_id, "csv")
    pdf = statement_issue.document(people["seller"], statement_id, "pdf").content
    sold = f"{(5519 - early_net) / 100:.2f} EUR at 1 USD = 0.935".encode()
    assert b"Buyer paid " + sold in html and b"+ VAT DE 19 % " in html
    assert b"Tax collected by Holdfast" in html
    assert f",EUR,{(5519 - early_net) / 100:.2f},1 USD = 0.935".encode() in csv_doc.content
    assert f"tax_collected_for_the_country,VAT DE 19 %,EUR,{(1049 - early_tax) / 100:.2f},"\
        .encode() in csv_doc.content
    assert b"total,Closing balance" in csv_doc.content and pdf.startswith(b"%PDF-")
    # The signed CSV verifies offline, as every statement does.
    (tmp_path / "s.csv").write_bytes(csv_doc.content)
    (tmp_path / "s.sig.json").write_bytes(csv_doc.signature.encode()
                                          if isinstance(csv_doc.signature, str)
                                          else csv_doc.signature)
    key = client.get("/statements/public-key.pem").data
    (tmp_path / "key.pem").write_bytes(key)
    assert verify_main([str(tmp_path / "s.csv"), str(tmp_path / "s.sig.json"),
                        str(tmp_path / "key.pem")]) == 0
    assert "VERIFIED" in capsys.readouterr().out
