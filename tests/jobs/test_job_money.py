"""Jobs that move marketplace money: escrow auto-release and scheduled payout runs."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from app.clock import now
from app.domain.ledger import AccountKind
from app.extensions import db
from app.jobs.escrow import release_due
from app.jobs.payouts import run_payouts
from app.models import EscrowHold, Payout
from app.services.audit import Actor
from app.services.money import bank_accounts, escrow, ledger, payout_settings, payouts
from tests.flows import (
    PASSWORD,
    paid_order,
    settle,
)

SUPPORT = Actor("support@test.example", "127.0.0.1")


def released_to_seller(client, people, stack, psp) -> int:
    """A paid order whose mug line (seller's) is released: €21.60 available."""
    order_id = paid_order(client, people, stack, psp, {"mug": 1})
    hold = db.session.execute(select(EscrowHold).where(EscrowHold.order_id == order_id)).scalar_one()
    escrow.support_decide(hold.id, "release", SUPPORT)
    return people["seller"]


def test_release_due_releases_only_lines_whose_timer_ran_out(client, people, stack, psp):
    order_id = paid_order(client, people, stack, psp, {"mug": 1, "candle": 1})
    holds = {h.seller_id: h for h in db.session.execute(
        select(EscrowHold).where(EscrowHold.order_id == order_id)).scalars()}
    actor = Actor("seller@test.example", "127.0.0.1")
    escrow.mark_shipped(people["seller"], holds[people["seller"]].id, "T1", actor)
    escrow.mark_shipped(people["other_seller"], holds[people["other_seller"]].id, "T2", actor)
    overdue = holds[people["seller"]]
    overdue.release_due_at = now() - timedelta(minutes=1)
    db.session.commit()

    assert release_due() == 1
    db.session.expire_all()
    assert db.session.get(EscrowHold, overdue.id).released_by == "timer"
    assert db.session.get(EscrowHold, holds[people["other_seller"]].id).status == "held"
    assert release_due() == 0  # nothing twice


def test_a_payout_run_skips_sellers_without_a_bank_account(client, people, stack, psp):
    released_to_seller(client, people, stack, psp)
    assert run_payouts() == []
    assert ledger.balance(AccountKind.SELLER_AVAILABLE, str(people["seller"]), "EUR") == 2160


def test_schedules_and_minimums_decide_who_is_paid(client, people, stack, psp):
    seller = released_to_seller(client, people, stack, psp)
    bank_accounts.register_or_change(seller, PASSWORD, "Northwind", SUPPORT,
                                     iban="DE89370400440532013000")
    monday = datetime(2026, 11, 23, 9, 0)
    payout_settings.update_settings(seller, "weekly", 2, 100, SUPPORT)   # Wednesdays
    assert payouts.book_payout(seller, "EUR", SUPPORT, at=monday) is None
    payout_settings.update_settings(seller, "manual", 0, 100, SUPPORT)
    assert payouts.book_payout(seller, "EUR", SUPPORT, at=monday) is None
    payout_settings.update_settings(seller, "daily", 0, 5000, SUPPORT)   # €50 minimum > €21.60
    assert payouts.book_payout(seller, "EUR", SUPPORT, at=monday) is None
    payout_settings.update_settings(seller, "daily", 0, 100, SUPPORT)
    first = payouts.book_payout(seller, "EUR", SUPPORT, at=monday)
    assert db.session.get(Payout, first).amount == 2160
    # A manual payout pays whatever is available, but there is nothing left.
    assert payouts.book_payout(seller, "EUR", SUPPORT, manual=True) is None


def test_a_daily_schedule_pays_at_most_once_a_day(client, people, stack, psp):
    seller = released_to_seller(client, people, stack, psp)
    bank_accounts.register_or_change(seller, PASSWORD, "Northwind", SUPPORT,
                                     iban="DE89370400440532013000")
    monday = datetime(2026, 11, 23, 9, 0)
    assert payouts.book_payout(seller, "EUR", SUPPORT, at=monday) is not None
    # More money arrives the same day: the daily run waits until tomorrow.
    db.session.commit()
    assert payout_settings.is_due(payouts_settings(seller), monday + timedelta(hours=5)) is False
    assert payout_settings.is_due(payouts_settings(seller), monday + timedelta(days=1)) is True


def payouts_settings(seller_id: int):
    from app.models import PayoutSettings

    db.session.expire_all()
    return db.session.get(PayoutSettings, seller_id)


def test_the_payout_run_resends_a_payout_whose_submit_was_lost(client, people, stack, psp):
    seller = released_to_seller(client, people, stack, psp)
    bank_accounts.register_or_change(seller, PASSWORD, "Northwind", SUPPORT,
                                     iban="DE89370400440532013000")
    payout_id = payouts.book_payout(seller, "EUR", SUPPORT, manual=True)  # never submitted
    payout = db.session.get(Payout, payout_id)
    payout.created_at = now() - timedelta(minutes=30)
    db.session.commit()
    assert run_payouts() == []  # nothing new to book …
    settle(psp)                 # … but the stale one was re-sent
    db.session.expire_all()
    assert db.session.get(Payout, payout_id).status == "in_transit"
