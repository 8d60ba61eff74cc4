"""Screening's history signals, read in one statement: the buyer's good-standing orders, the
largest in the order's currency, a 3-D Secure challenge, and the order's riskiest seller."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, select

from app.clock import now
from app.domain.fraud import Stage
from app.extensions import db
from app.models import Item, Order, OrderLine, Payment, PaymentStatusChange, User
from app.services.fraud import signals
from app.services.fraud.rules_file import current


def order(buyer: int, lines: list[tuple[int, int]], status: str = "paid",
          currency: str = "EUR") -> Order:
    """An order of (seller, amount) lines in `status` (each line names some catalogue item:
    the signals look at the line's seller only)."""
    item = db.session.scalars(select(Item.id)).first()
    placed = Order(buyer_id=buyer, currency=currency, status=status,
                   total_amount=sum(amount for _, amount in lines))
    for seller, amount in lines:
        placed.lines.append(OrderLine(item_id=item, seller_id=seller, title="Thing",
                                      unit_amount=amount, quantity=1, line_total=amount,
                                      currency=currency))
    db.session.add(placed)
    db.session.flush()
    return placed


def payment_for(placed: Order, key: str) -> Payment:
    payment = Payment(order_id=placed.id, provider="sandbox", integration_mode="hosted",
                      amount=placed.total_amount, currency=placed.currency,
                      idempotency_key=key, client_ip="8.8.8.8", billing_country="DE")
    db.session.add(payment)
    db.session.flush()
    return payment


@pytest.fixture
def history(app, people):
    """The buyer's history and its sellers': ages, paid and unpaid orders, another buyer's."""
    seller, other = people["seller"], people["other_seller"]
    db.session.get(User, seller).created_at = now() - timedelta(days=30)
    db.session.get(User, other).created_at = now() - timedelta(days=2)
    newest = User(email="newest@test.example", display_name="Newest", role="seller",
                  password_hash="x", created_at=now())
    db.session.add(newest)
    db.session.flush()
    buyer, someone = people["buyer"], people["other_buyer"]
    order(buyer, [(seller, 2400)])                        # good standing, EUR
    order(buyer, [(seller, 9900)], status="shipped", currency="USD")  # larger, another currency
    order(buyer, [(seller, 50000)], status="cancelled")  # not in good standing
    order(someone, [(other, 1000)], status="delivered")
    order(someone, [(other, 1000), (other, 500)])         # two lines, one sale
    order(someone, [(newest.id, 700)])                    # a seller not in the buyer's order
    this = order(buyer, [(seller, 2400), (other, 1200)], status="awaiting_payment")
    db.session.commit()
    return this


def test_history_signals_of_an_order_with_two_sellers(history):
    payment = payment_for(history, "hf_signals_two_sellers")
    db.session.add(PaymentStatusChange(payment_id=payment.id, from_status="processing",
                                       to_status="requires_action", cause="3ds"))
    found = signals.gather(payment, current(), Stage.BEFORE_PSP)
    assert found["first_purchase"] is False  # the shipped USD order counts too
    assert found["amount_vs_history"] == pytest.approx(3600 / 2400)  # EUR orders only
    assert found["three_d_secure"] is True
    # The riskiest seller: the younger (2 days, not the newest account, which is not in this
    # order), and the fewest paid sales: seller 2, other_seller 2 (distinct orders) → 2.
    assert found["seller_age_days"] == pytest.approx(2, abs=0.01)
    assert found["seller_paid_sales"] == 2
    assert found["account_age_days"] < 0.1 and found["email_domain"] == "test.example"


def test_a_seller_without_sales_makes_it_zero_and_a_first_buyer_has_no_history(app, people):
    placed = order(people["other_buyer"], [(people["seller"], 1500)], status="awaiting_payment")
    payment = payment_for(placed, "hf_signals_first")
    found = signals.gather(payment, current(), Stage.BEFORE_PSP)
    assert found["first_purchase"] is True and found["amount_vs_history"] is None
    assert found["three_d_secure"] is False
    assert found["seller_paid_sales"] == 0


def test_an_order_without_lines_has_no_seller_signals(app, people):
    bare = Order(buyer_id=people["buyer"], currency="EUR", status="awaiting_payment",
                 total_amount=900)
    db.session.add(bare)
    db.session.flush()
    payment = payment_for(bare, "hf_no_lines")
    found = signals.gather(payment, current(), Stage.BEFORE_PSP)
    assert found["seller_age_days"] is None and found["seller_paid_sales"] is None


def test_gathering_reads_the_database_twice_whatever_the_order(history):
    # The history in one statement and the lists in another: screening runs inside
    # checkout's write transaction, where each statement costs ≈ 0.5 ms of CPU.
    payment = payment_for(history, "hf_signals_count")
    db.session.commit()
    payment = db.session.get(Payment, payment.id)
    seen = []

    def count(*_):
        seen.append(1)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        signals.gather(payment, current(), Stage.PSP_VERDICT)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert len(seen) == 2
