"""Money through the marketplace: capture → escrow per line → release → payout → paid/failed."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.clock import now
from app.domain.ledger import AccountKind
from app.extensions import db
from app.jobs.payouts import run_payouts
from app.models import EscrowHold, Payout
from app.services import notifications
from app.services.audit import Actor
from app.services.money import bank_accounts, escrow, ledger, payout_sweeps
from app.services.money.ledger_checks import check_all
from tests import flows
from tests.flows import PASSWORD, latest_payment, login, settle

SELLER = Actor("seller@test.example", "127.0.0.1")


def paid_order(client, people, stack, psp) -> int:
    """2 mugs (seller: 48.00) and a candle (other seller: 16.90), captured."""
    return flows.paid_order(client, people, stack, psp, {"mug": 2, "candle": 1})


def holds(order_id: int) -> dict[int, EscrowHold]:
    db.session.expire_all()
    rows = db.session.execute(select(EscrowHold).where(EscrowHold.order_id == order_id)).scalars()
    return {h.seller_id: h for h in rows}


def test_capture_holds_each_sellers_share_in_escrow(client, people, stack, psp):
    order_id = paid_order(client, people, stack, psp)
    by_seller = holds(order_id)
    assert by_seller[people["seller"]].gross_amount == 4800
    assert by_seller[people["other_seller"]].gross_amount == 1690
    # Default platform fee: 10 % (PLATFORM_FEE_BPS=1000), rounded half up.
    assert by_seller[people["seller"]].fee_amount == 480
    assert by_seller[people["other_seller"]].fee_amount == 169
    assert ledger.balance(AccountKind.ESCROW, str(people["seller"]), "EUR") == 4800
    fee = latest_payment(order_id).psp_fee_amount
    assert ledger.balance(AccountKind.PSP_CLEARING, "sandbox", "EUR") == 6490 - fee
    assert ledger.balance(AccountKind.PSP_FEES, "", "EUR") == fee
    assert check_all() == []


def test_confirmed_line_releases_share_minus_fee_and_is_paid_out(client, people, stack, psp):
    order_id = paid_order(client, people, stack, psp)
    hold = holds(order_id)[people["seller"]]
    bank_accounts.register_or_change(people["seller"], PASSWORD, "Northwind Goods", SELLER,
                                     iban="DE89370400440532013000")
    escrow.mark_shipped(people["seller"], hold.id, "TRACK-1", SELLER)
    escrow.confirm_receipt(people["buyer"], hold.id, Actor("buyer@test.example", "127.0.0.1"))
    seller = str(people["seller"])
    assert ledger.balance(AccountKind.SELLER_AVAILABLE, seller, "EUR") == 4800 - 480
    assert ledger.balance(AccountKind.ESCROW, seller, "EUR") == 0
    assert ledger.balance(AccountKind.PLATFORM_FEES, "", "EUR") == 480

    booked = run_payouts()
    assert len(booked) == 1  # the other seller's money is still in escrow
    assert ledger.balance(AccountKind.SELLER_IN_TRANSIT, seller, "EUR") == 4320
    settle(psp)  # submit job → sandbox payout (pending)
    import time

    from sandbox_psp.webhooks import deliver_due
    deliver_due(psp, now=time.time() + 60)  # the bank confirms later
    settle(psp)
    payout = db.session.get(Payout, booked[0])
    db.session.refresh(payout)
    assert payout.status == "paid" and payout.amount == 4320
    assert ledger.balance(AccountKind.SELLER_IN_TRANSIT, seller, "EUR") == 0
    assert ledger.balance(AccountKind.SELLER_AVAILABLE, seller, "EUR") == 0
    assert run_payouts() == []  # nothing left to pay, and never twice
    assert check_all() == []


def test_failed_payout_returns_the_money_to_available(client, people, stack, psp):
    import time

    from sandbox_psp.webhooks import deliver_due

    order_id = paid_order(client, people, stack, psp)
    hold = holds(order_id)[people["other_seller"]]
    bank_accounts.register_or_change(people["other_seller"], PASSWORD, "Harbor & Pine",
                                     Actor("other_seller@test.example", "127.0.0.1"),
                                     iban="DE62370400440532013001")  # account_closed
    escrow.support_decide(hold.id, "release", Actor("support@test.example", "127.0.0.1"))
    booked = run_payouts()
    settle(psp)
    deliver_due(psp, now=time.time() + 60)
    settle(psp)
    payout = db.session.get(Payout, booked[0])
    db.session.refresh(payout)
    assert payout.status == "failed" and payout.failure_code == "account_closed"
    assert "closed" in payout.failure_message
    # The seller is told, through the outbox, and the dev mailbox shows it once delivered.
    (note,) = [n for n in notifications.mailbox() if n.kind == "payout_failed"]
    assert note.user_id == people["other_seller"]
    assert "€15.21" in note.subject and note.status == "pending"
    # No mail server in the tests: recorded for the mailbox, never called "sent".
    assert notifications.deliver_pending() == 0
    db.session.refresh(note)
    assert note.status == "recorded"
    login(client, "other_seller")
    assert "Your payout of €15.21 failed" in client.get("/dev/mailbox").get_data(as_text=True)
    assert ledger.balance(AccountKind.SELLER_AVAILABLE, str(people["other_seller"]), "EUR") \
        == 1690 - 169
    assert check_all() == []


def test_auto_release_after_the_timer(client, people, stack, psp):
    order_id = paid_order(client, people, stack, psp)
    hold = holds(order_id)[people["seller"]]
    escrow.mark_shipped(people["seller"], hold.id, "", SELLER)
    timer = Actor("system:escrow-timer", "worker")
    assert not escrow.release_if_due(hold.id, timer, at=now() + timedelta(days=13))
    assert escrow.release_if_due(hold.id, timer, at=now() + timedelta(days=14, minutes=1))
    assert holds(order_id)[people["seller"]].released_by == "timer"


def test_two_payout_runs_at_once_pay_once(app, client, people, stack, psp):
    import threading

    order_id = paid_order(client, people, stack, psp)
    hold = holds(order_id)[people["seller"]]
    bank_accounts.register_or_change(people["seller"], PASSWORD, "Northwind Goods", SELLER,
                                     iban="DE89370400440532013000")
    escrow.support_decide(hold.id, "release", Actor("support@test.example", "127.0.0.1"))
    results, errors, barrier = [], [], threading.Barrier(2)

    def run():
        with app.app_context():
            barrier.wait()
            try:
                results.append(run_payouts())
            except Exception as exc:  # a loser may also fail on the lock; it must not pay
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    payouts = db.session.execute(select(Payout)).scalars().all()
    assert len(payouts) == 1, (results, errors)
    assert payouts[0].amount == 4320
    assert sorted(len(r) for r in results) in ([0, 1], [1])
    assert ledger.balance(AccountKind.SELLER_AVAILABLE, str(people["seller"]), "EUR") == 0
    assert check_all() == []


def test_a_payout_webhook_that_beats_the_submit_job_still_settles_it(client, people, stack,
                                                                     psp):
    """The PSP's payout.paid may arrive before our submit job stored the PSP's payout id."""
    import time

    from sandbox_psp.webhooks import deliver_due

    order_id = paid_order(client, people, stack, psp)
    hold = holds(order_id)[people["seller"]]
    bank_accounts.register_or_change(people["seller"], PASSWORD, "Northwind Goods", SELLER,
                                     iban="DE89370400440532013000")
    escrow.support_decide(hold.id, "release", Actor("support@test.example", "127.0.0.1"))
    (payout_id,) = run_payouts()
    settle(psp)  # submit: the PSP accepts the payout
    # Simulate the race: forget the PSP's id, as if the submit job had not committed it yet.
    payout = db.session.get(Payout, payout_id)
    payout.psp_reference = None
    db.session.commit()
    deliver_due(psp, now=time.time() + 60)
    settle(psp)
    db.session.expire_all()
    payout = db.session.get(Payout, payout_id)
    assert payout.status == "paid" and payout.psp_reference
    assert payout_sweeps.stale_pending() == []


def test_a_stale_support_decision_is_refused_readably(client, people, stack, psp):
    import pytest

    from app.services.errors import Conflict

    order_id = paid_order(client, people, stack, psp)
    hold = holds(order_id)[people["seller"]]
    support = Actor("support@test.example", "127.0.0.1")
    escrow.support_decide(hold.id, "release", support)
    with pytest.raises(Conflict, match="released; it cannot be put on hold now"):
        escrow.support_decide(hold.id, "hold", support)
