"""Refund preview: plans.plan for an order of N lines against loading the same rows.

Support and sellers see a plan (who pays what, PSP fee lost, balances after) before every
refund, and the page recomputes it as they type. The subject plans a partial refund spread over
all lines of a captured order whose lines are half released; the baseline loads the rows the
plan is made of (the payment and its escrow holds) and nothing else. Both start each iteration
from an empty identity map (rollback), as a new request would.

Target ≥ 0.2×: plan() runs a fixed number of queries whatever N is: payment, open chargeback,
holds and pending refunds (each twice, once to choose and once to build) and one balance per
seller; about four times the baseline's two. With N = 40 lines, one extra query per line (an
N+1: say loading each line's title lazily) would take the ratio well below 0.1, so the target
catches it; the quick run uses the same N because the ratio is what is compared.
"""
from __future__ import annotations

from bench.measure import Result, best_rates

TARGET = 0.2
LINES = 40
SELLERS = 4


def captured_order(lines: int) -> int:
    """A captured order of `lines` lines from SELLERS sellers, escrow held, every other line
    released (so the plan claws some back from balances); the payment id."""
    from app.database import unit_of_work
    from app.domain.payment_states import PaymentStatus
    from app.extensions import db
    from app.models import Item, Order, OrderLine, Payment
    from app.models.escrow import EscrowHold
    from app.services.audit import Actor
    from app.services.money import escrow
    from bench.stack import make_users

    people = make_users({"buyer": "buyer", **{f"seller{i}": "seller" for i in range(SELLERS)}})
    sellers = [people[f"seller{i}"] for i in range(SELLERS)]
    # (seller, unit price, quantity) per line: prices and quantities vary like a real basket.
    spec = [(sellers[n % SELLERS], 1000 + 37 * n, 1 + n % 3) for n in range(lines)]
    total = sum(price * quantity for _, price, quantity in spec)
    with unit_of_work():
        order = Order(buyer_id=people["buyer"], currency="EUR", total_amount=total, status="paid")
        db.session.add(order)
        db.session.flush()
        for n, (seller, price, quantity) in enumerate(spec):
            item = Item(seller_id=seller, title=f"Item {n}", price_amount=price, currency="EUR",
                        stock=10)
            db.session.add(item)
            db.session.flush()
            db.session.add(OrderLine(order_id=order.id, item_id=item.id, seller_id=seller,
                                     title=item.title, unit_amount=price, quantity=quantity,
                                     line_total=price * quantity, currency="EUR"))
        db.session.flush()
        payment = Payment(order_id=order.id, provider="sandbox", integration_mode="hosted",
                          status=PaymentStatus.CAPTURED.value, amount=total, currency="EUR",
                          amount_authorized=total, amount_captured=total,
                          psp_fee_amount=25 + total * 14 // 1000,
                          idempotency_key="bench-refund-plan", psp_reference="ps_bench_1")
        db.session.add(payment)
        db.session.flush()
        if not escrow.hold_captured(payment):
            raise RuntimeError("the capture was not posted")
        holds = db.session.query(EscrowHold).order_by(EscrowHold.order_line_id).all()
        for hold in holds[::2]:
            escrow.release_now(hold, "support", Actor("system:bench", "cli"))
        return payment.id


def plan_many(payment_id: int, amount: int, count: int) -> None:
    """The subject: `count` previews of a partial refund spread over every line."""
    from app.extensions import db
    from app.services.refunds import plans

    for _ in range(count):
        db.session.rollback()
        result = plans.plan(payment_id, amount=amount)
        if result.total != amount or len(result.lines) != LINES:
            raise RuntimeError(f"unexpected plan: {result.total} over {len(result.lines)} lines")


def load_many(payment_id: int, count: int) -> None:
    """The baseline: load the payment and its holds, `count` times."""
    from sqlalchemy import select

    from app.extensions import db
    from app.models import Payment
    from app.models.escrow import EscrowHold

    for _ in range(count):
        db.session.rollback()
        payment = db.session.get(Payment, payment_id)
        holds = db.session.execute(select(EscrowHold).where(
            EscrowHold.order_id == payment.order_id).order_by(EscrowHold.order_line_id)
        ).scalars().all()
        if len(holds) != LINES:
            raise RuntimeError(f"{len(holds)} holds loaded, expected {LINES}")


def run(app, count: int, rounds: int) -> Result:
    """Measure both sides on `count` previews per round."""
    from app.extensions import db
    from app.models import Payment

    payment_id = captured_order(LINES)
    amount = db.session.get(Payment, payment_id).amount_captured // 2
    plan_many(payment_id, amount, 3)  # warm-up
    load_many(payment_id, 3)
    subject, baseline = best_rates(lambda n: plan_many(payment_id, amount, n),
                                   lambda n: load_many(payment_id, n), count, rounds)
    return Result(f"refund preview: plan() of {LINES} lines vs loading payment + holds",
                  "previews/s", subject, baseline, TARGET,
                  note=f"{count} previews × best of {rounds} rounds, {SELLERS} sellers, "
                       f"half the lines released")
