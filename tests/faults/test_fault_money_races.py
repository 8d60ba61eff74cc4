"""Races with real threads, each with its own connection: on one payment, capture, void and
refund at once; on one seller's balance, payouts and refunds at once. Exactly one of each
conflicting pair wins, the losers get a clear conflict (409 with words over HTTP), the PSP
executed each intent once, and the ledger's invariants hold (checked after every test).

Written for PostgreSQL (row locks; CI stage 2), they hold on SQLite too (BEGIN IMMEDIATE
serialises every writer)."""
from __future__ import annotations

import threading

from sqlalchemy import func, select

from app.domain.ledger import AccountKind
from app.extensions import db
from app.models import EscrowHold, Payment, Payout, Refund
from app.providers.registry import get_provider
from app.services.audit import Actor
from app.services.errors import ServiceError
from app.services.form_intents import mint
from app.services.money import bank_accounts, escrow, ledger
from app.services.payments import actions
from app.services.refunds import refunds
from tests.flows import PASSWORD, buyer_pays, login, order_and_start, paid_order, psp_call, settle

SUPPORT = Actor("support@test.example", "127.0.0.1")


def at_once(app, works: list) -> list:
    """Run each work() in its own thread, released together; each one's result or exception."""
    results: list = [None] * len(works)
    barrier = threading.Barrier(len(works))

    def run(index, work):
        with app.app_context():
            barrier.wait()
            try:
                results[index] = work()
            except Exception as exc:  # kept and asserted on by the test
                results[index] = exc
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i, w)) for i, w in enumerate(works)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    db.session.rollback()
    return results


def executions(stack, suffix: str) -> list[int]:
    counts = psp_call(stack["psp_url"], "GET", "/v1/_stats").json()["executions"]
    return [n for key, n in counts.items() if key.endswith(suffix)]


def test_capture_void_and_refund_at_once_leave_one_outcome(app, client, people, stack, psp,
                                                           monkeypatch):
    monkeypatch.setitem(app.config, "AUTO_CAPTURE", False)
    login(client, "buyer")
    client.post("/cart/add", data={"item_id": people["mug"], "quantity": 1})
    _, payment = order_and_start(client, "EUR", "hosted")
    buyer_pays(stack["psp_url"], payment.psp_reference)
    settle(psp)
    assert db.session.get(Payment, payment.id).status == "authorized"
    actor = Actor("system:test", "test")

    results = at_once(app, [
        lambda: actions.capture(payment.id, actor),
        lambda: actions.capture(payment.id, actor),
        lambda: actions.cancel_for_replacement(payment.id, actor),
        lambda: refunds.request_refund(payment.id, amount=500, reason="race", actor=SUPPORT,
                                       by="support"),
    ])

    unexpected = [r for r in results if isinstance(r, Exception)
                  and not isinstance(r, ServiceError)]
    assert not unexpected, unexpected
    final = db.session.get(Payment, payment.id)
    psp_status = get_provider("sandbox").retrieve(payment.psp_reference).status.value
    assert final.status in ("captured", "cancelled", "partially_refunded")
    assert {"captured": "captured", "partially_refunded": "captured"}.get(final.status,
                                                                         final.status) \
        == {"partially_refunded": "captured"}.get(psp_status, psp_status) or \
        (final.status, psp_status) == ("partially_refunded", "partially_refunded")
    changes = [c.to_status for c in final.changes]
    assert not ("captured" in changes and "cancelled" in changes)  # one winner
    holds = db.session.scalar(select(func.count(EscrowHold.id))
                              .where(EscrowHold.order_id == payment.order_id))
    assert holds == (1 if "captured" in changes else 0)
    assert executions(stack, f"{payment.idempotency_key}:capture") in ([], [1])
    refund_error = results[3]
    if isinstance(refund_error, ServiceError):  # lost to the capture or the void: says why
        assert refund_error.status == 409 and "captured payment" in refund_error.message
    else:
        assert db.session.scalar(select(func.count(Refund.id))) == 1


def seller_with_balance(client, people, stack, psp) -> tuple[int, int]:
    """The seller's mug line released (€21.60 available) and a bank account: (seller, payment)."""
    order_id = paid_order(client, people, stack, psp, {"mug": 1})
    hold = db.session.execute(select(EscrowHold).where(EscrowHold.order_id == order_id)
                              ).scalar_one()
    escrow.support_decide(hold.id, "release", SUPPORT)
    bank_accounts.register_or_change(people["seller"], PASSWORD, "Northwind", SUPPORT,
                                     iban="DE89370400440532013000")
    payment = db.session.execute(select(Payment).where(Payment.order_id == order_id)
                                 ).scalar_one()
    return people["seller"], payment.id


def test_payouts_at_once_pay_once_and_the_rest_get_409(app, people, stack, psp, client):
    seller, _ = seller_with_balance(client, people, stack, psp)
    sellers = []
    for _ in range(4):
        seller_client = app.test_client()
        login(seller_client, "seller")
        sellers.append(seller_client)

    answers = at_once(app, [lambda c=c: c.post("/seller/payouts",
                                               data={"currency": "EUR", "intent": mint()},
                                               headers={"HX-Request": "true"})
                            for c in sellers])

    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200, 409, 409, 409]
    refused = [a.get_data(as_text=True) for a in answers if a.status_code == 409]
    assert all("Nothing is available to pay out in EUR." in body for body in refused)
    assert db.session.scalar(select(func.count(Payout.id))) == 1
    assert ledger.balance(AccountKind.SELLER_AVAILABLE, str(seller), "EUR") == 0


def test_one_payout_form_posted_at_once_pays_once_and_every_answer_says_so(
        app, people, stack, psp, client):
    seller, _ = seller_with_balance(client, people, stack, psp)
    seller_client = app.test_client()
    login(seller_client, "seller")
    form = {"currency": "EUR", "intent": mint()}  # one form, its key sent three times

    answers = at_once(app, [lambda: seller_client.post("/seller/payouts", data=form,
                                                       headers={"HX-Request": "true"})] * 3)

    # The first acts; a repeat that arrives while it runs is told to look before retrying.
    assert [a.status_code for a in answers] == [200, 200, 200]
    bodies = [a.get_data(as_text=True) for a in answers]
    assert sum("is on its way" in b for b in bodies) >= 1
    assert all("is on its way" in b or "already sent" in b for b in bodies)
    assert db.session.scalar(select(func.count(Payout.id))) == 1
    assert ledger.balance(AccountKind.SELLER_AVAILABLE, str(seller), "EUR") == 0


def test_a_payout_and_refunds_on_one_balance_at_once(app, people, stack, psp, client):
    seller, payment_id = seller_with_balance(client, people, stack, psp)
    seller_actor = Actor("seller@test.example", "127.0.0.1", user_id=seller)
    from app.services.money import payouts

    results = at_once(app, [
        lambda: payouts.book_payout(seller, "EUR", seller_actor, manual=True),
        lambda: refunds.request_refund(payment_id, amount=2400, reason="race", actor=SUPPORT,
                                       by="support"),
        lambda: refunds.request_refund(payment_id, amount=2400, reason="race", actor=SUPPORT,
                                       by="support"),
    ])

    unexpected = [r for r in results if isinstance(r, Exception)
                  and not isinstance(r, ServiceError)]
    assert not unexpected, unexpected
    made = db.session.scalars(select(Refund)).all()
    assert len(made) == 1  # the second full refund lost: a 409 saying it is refunded already
    loser = next(r for r in results[1:] if isinstance(r, ServiceError))
    assert loser.status == 409 and any(words in loser.message for words in (
        "Nothing is left to refund", "already been refunded in full"))
    payouts_made = db.session.scalars(select(Payout)).all()
    assert len(payouts_made) <= 1
    paid_out = sum(p.amount for p in payouts_made)
    # Whatever the order: paid out + what is left = released (2160) − the seller's share of
    # the full refund (2160); a payout that went first leaves −2160, netted by later releases.
    available = ledger.balance(AccountKind.SELLER_AVAILABLE, str(seller), "EUR")
    assert paid_out + available == 0
