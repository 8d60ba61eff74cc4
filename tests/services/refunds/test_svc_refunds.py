"""Refunds through the PSP and the ledger: by line, by amount, in full, held or released."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.domain.ledger import AccountKind
from app.domain.money import Money, allocate
from app.extensions import db
from app.models import (
    AuditRecord,
    DisputeCase,
    EscrowHold,
    LedgerTransaction,
    Payment,
    WebhookEvent,
)
from app.models.refunds import Refund
from app.services import notifications
from app.services.audit import Actor
from app.services.errors import Conflict, NotFound, ServiceError
from app.services.money import bank_accounts, escrow, ledger, payouts
from app.services.money.ledger_checks import check_all
from app.services.payments import actions
from app.services.refunds import refunds
from tests import flows
from tests.flows import PASSWORD, closed_port_url, latest_payment, psp_call, settle

SUPPORT = Actor("support@test.example", "127.0.0.1")


def seller_actor(people, who: str = "seller") -> Actor:
    return Actor(f"{who}@test.example", "127.0.0.1", user_id=people[who])


def captured(client, people, stack, psp) -> Payment:
    """2 mugs (seller: 48.00, fee 4.80) and a candle (other seller: 16.90, fee 1.69)."""
    order_id = flows.paid_order(client, people, stack, psp, {"mug": 2, "candle": 1})
    return latest_payment(order_id)


def holds(payment: Payment) -> dict[int, EscrowHold]:
    """The payment's holds by seller, freshly read."""
    db.session.expire_all()
    rows = db.session.execute(select(EscrowHold).where(
        EscrowHold.order_id == payment.order_id)).scalars()
    return {h.seller_id: h for h in rows}


def fresh(payment_id: int) -> Payment:
    db.session.commit()
    db.session.expire_all()
    return db.session.get(Payment, payment_id)


def available(people, who: str = "seller") -> int:
    return ledger.balance(AccountKind.SELLER_AVAILABLE, str(people[who]), "EUR")


def psp_refunded(stack, payment: Payment) -> int:
    return psp_call(stack["psp_url"], "GET",
                    f"/v1/payment_sessions/{payment.psp_reference}").json()["amount_refunded"]


def postings(event: str) -> list[LedgerTransaction]:
    return db.session.execute(select(LedgerTransaction).where(
        LedgerTransaction.event == event)).scalars().all()


def test_full_refund_of_held_lines_comes_out_of_escrow_once(client, people, stack, psp):
    payment = captured(client, people, stack, psp)
    clearing = ledger.balance(AccountKind.PSP_CLEARING, "sandbox", "EUR")

    refund = refunds.request_refund(payment.id, reason="out of stock", actor=SUPPORT,
                                    by="support")
    settle(psp)  # refund.succeeded arrives: already settled, nothing moves twice

    assert refund.status == "succeeded" and refund.amount == 6490 and refund.psp_reference
    payment = fresh(payment.id)
    assert payment.status == "refunded" and payment.amount_refunded == 6490
    assert psp_refunded(stack, payment) == 6490
    assert {h.status for h in holds(payment).values()} == {"refunded"}
    assert ledger.balance(AccountKind.ESCROW, str(people["seller"]), "EUR") == 0
    assert ledger.balance(AccountKind.ESCROW, str(people["other_seller"]), "EUR") == 0
    assert ledger.balance(AccountKind.PSP_CLEARING, "sandbox", "EUR") == clearing - 6490
    assert ledger.balance(AccountKind.PLATFORM_FEES, "", "EUR") == 0
    assert len(postings("refund")) == 1
    kinds = sorted((n.user_id, n.kind) for n in notifications.mailbox()
                   if n.kind.startswith("refund"))  # the order's receipt and sale notices aside
    assert kinds == sorted([(people["buyer"], "refund_succeeded"),
                            (people["seller"], "refund_succeeded"),
                            (people["other_seller"], "refund_succeeded")])
    actions = [a.action for a in db.session.execute(select(AuditRecord)).scalars()]
    assert "refund.requested" in actions and "refund.succeeded" in actions
    with pytest.raises(Conflict, match="already been refunded in full"):
        refunds.request_refund(payment.id, reason="again", actor=SUPPORT, by="support")
    assert check_all() == []


def test_part_of_a_held_line_shrinks_what_is_released_and_its_fee(client, people, stack, psp):
    payment = captured(client, people, stack, psp)
    mug = holds(payment)[people["seller"]]

    refund = refunds.request_refund(payment.id, lines={mug.order_line_id: 1000},
                                    reason="scratched", actor=SUPPORT, by="support")

    assert [(rl.amount, rl.fee_returned, rl.released) for rl in refund.lines] == \
        [(1000, 100, False)]
    mug = holds(payment)[people["seller"]]
    assert (mug.refunded_amount, mug.fee_returned, mug.status) == (1000, 100, "held")
    assert fresh(payment.id).status == "partially_refunded"
    escrow.support_decide(mug.id, "release", SUPPORT)
    # What remains (38.00) is released with the fee on what remains (3.80).
    assert available(people) == 3800 - 380
    assert ledger.balance(AccountKind.PLATFORM_FEES, "", "EUR") == 380
    assert ledger.balance(AccountKind.ESCROW, str(people["seller"]), "EUR") == 0


def test_an_amount_is_spread_over_the_lines_exactly(client, people, stack, psp):
    payment = captured(client, people, stack, psp)
    by_seller = holds(payment)

    preview = refunds.plan(payment.id, amount=1001)
    refund = refunds.request_refund(payment.id, amount=1001, reason="late", actor=SUPPORT,
                                    by="support")

    expected = allocate(1001, [4800, 1690])
    parts = {rl.hold_id: rl.amount for rl in refund.lines}
    assert parts == {by_seller[people["seller"]].id: expected[0],
                     by_seller[people["other_seller"]].id: expected[1]}
    assert sum(parts.values()) == 1001 == preview.total
    assert [(lp.hold_id, lp.amount) for lp in preview.lines] == sorted(parts.items())
    assert preview.refundable_before == 6490 and preview.refundable_after == 5489
    fee = latest_payment(payment.order_id).psp_fee_amount
    assert preview.psp_fee_lost == (fee * 1001 * 2 + 6490) // (2 * 6490)


def test_several_partial_refunds_return_exactly_the_whole_fee(client, people, stack, psp):
    payment = captured(client, people, stack, psp)
    candle = holds(payment)[people["other_seller"]]
    for part in (333, 333, 333, 691):
        refunds.request_refund(payment.id, lines={candle.order_line_id: part}, reason="bits",
                               actor=SUPPORT, by="support")
    candle = holds(payment)[people["other_seller"]]
    assert (candle.refunded_amount, candle.fee_returned, candle.status) == (1690, 169, "refunded")
    assert fresh(payment.id).status == "partially_refunded"


def test_after_release_the_seller_share_is_clawed_back_and_the_fee_returned(
        client, people, stack, psp):
    payment = captured(client, people, stack, psp)
    mug = holds(payment)[people["seller"]]
    escrow.support_decide(mug.id, "release", SUPPORT)
    assert available(people) == 4320

    preview = refunds.plan(payment.id, lines={mug.order_line_id: 2400})
    (line,) = preview.lines
    assert (line.from_escrow, line.from_seller_balance, line.fee_returned,
            line.seller_available_after) == (0, 2160, 240, 2160)
    refund = refunds.request_refund(payment.id, lines={mug.order_line_id: 2400},
                                    reason="one broke", actor=seller_actor(people), by="seller")

    assert refund.lines[0].released is True
    assert available(people) == 4320 - 2160
    assert ledger.balance(AccountKind.PLATFORM_FEES, "", "EUR") == 480 - 240
    assert holds(payment)[people["seller"]].status == "released"


def test_a_seller_short_of_balance_is_refused_but_support_may_go_negative(
        client, people, stack, psp):
    payment = captured(client, people, stack, psp)
    mug = holds(payment)[people["seller"]]
    bank_accounts.register_or_change(people["seller"], PASSWORD, "Northwind Goods",
                                     seller_actor(people), iban="DE89370400440532013000")
    escrow.support_decide(mug.id, "release", SUPPORT)
    assert payouts.book_payout(people["seller"], "EUR", SUPPORT, manual=True)
    assert available(people) == 0  # all of it is on its way to the bank

    with pytest.raises(Conflict, match="available balance is €0.00"):
        refunds.request_refund(payment.id, lines={mug.order_line_id: 4800}, reason="broken",
                               actor=seller_actor(people), by="seller")
    refunds.request_refund(payment.id, lines={mug.order_line_id: 4800}, reason="broken",
                           actor=SUPPORT, by="support")

    assert available(people) == -4320
    assert holds(payment)[people["seller"]].status == "refunded"
    # No payout while the balance is not positive, and the next sale is netted against it.
    assert payouts.book_payout(people["seller"], "EUR", SUPPORT, manual=True) is None
    second = captured(client, people, stack, psp)
    escrow.support_decide(holds(second)[people["seller"]].id, "release", SUPPORT)
    assert available(people) == -4320 + 4320
    assert payouts.book_payout(people["seller"], "EUR", SUPPORT, manual=True) is None
    assert check_all() == []


def test_a_seller_refunds_only_their_own_lines(client, people, stack, psp):
    payment = captured(client, people, stack, psp)
    candle = holds(payment)[people["other_seller"]]
    with pytest.raises(NotFound):
        refunds.request_refund(payment.id, lines={candle.order_line_id: 100}, reason="x",
                               actor=seller_actor(people), by="seller")
    # By amount, a seller's refund spreads over their own lines only.
    refund = refunds.request_refund(payment.id, amount=500, reason="goodwill",
                                    actor=seller_actor(people), by="seller")
    assert {rl.seller_id for rl in refund.lines} == {people["seller"]}
    with pytest.raises(Conflict, match="At most €43.00 can still be refunded"):
        refunds.request_refund(payment.id, amount=4301, reason="x",
                               actor=seller_actor(people), by="seller")
    # A seller with no line on the payment learns nothing about it.
    second = flows.paid_order(client, people, stack, psp, {"mug": 1})
    with pytest.raises(NotFound):
        refunds.request_refund(latest_payment(second).id, amount=100, reason="x",
                               actor=seller_actor(people, "other_seller"), by="seller")


@pytest.mark.parametrize(("kwargs", "error", "words"), [
    ({"amount": 0}, ServiceError, "greater than zero"),
    ({"amount": -5}, ServiceError, "greater than zero"),
    ({"amount": 10.5}, ServiceError, "whole number"),
    ({"amount": True}, ServiceError, "whole number"),
    ({"amount": "100"}, ServiceError, "whole number"),
    ({"amount": Money(100, "USD")}, ServiceError, "in EUR; the refund was asked in USD"),
    ({"amount": 6491}, Conflict, "At most €64.90 can still be refunded"),
    ({"lines": {999999: 100}}, NotFound, "No such order line"),
])
def test_bad_requests_are_refused_clearly_and_change_nothing(client, people, stack, psp, kwargs,
                                                             error, words):
    payment = captured(client, people, stack, psp)
    with pytest.raises(error, match=words):
        refunds.request_refund(payment.id, reason="x", actor=SUPPORT, by="support", **kwargs)
    assert db.session.execute(select(Refund)).first() is None
    assert fresh(payment.id).amount_refunded == 0


def test_more_than_a_line_holds_lines_and_amount_and_no_reason_are_refused(
        client, people, stack, psp):
    payment = captured(client, people, stack, psp)
    mug = holds(payment)[people["seller"]]
    with pytest.raises(Conflict, match="At most €48.00 of “Mug”"):
        refunds.plan(payment.id, lines={mug.order_line_id: 4801})
    with pytest.raises(ServiceError, match="not both"):
        refunds.plan(payment.id, lines={mug.order_line_id: 1}, amount=1)
    with pytest.raises(ServiceError, match="Say why"):
        refunds.request_refund(payment.id, amount=1, reason="  ", actor=SUPPORT, by="support")


def test_an_uncaptured_payment_cannot_be_refunded(client, people):
    flows.login(client, "buyer")
    flows.add(client, people["mug"])
    _, payment = flows.order_and_start(client)
    with pytest.raises(Conflict, match="Only a captured payment can be refunded; this one is "
                                       "processing"):
        refunds.plan(payment.id)


def test_a_payment_under_chargeback_cannot_be_refunded(client, people, stack, psp):
    payment = captured(client, people, stack, psp)
    db.session.add(DisputeCase(kind="chargeback", status="needs_response",
                               order_id=payment.order_id, payment_id=payment.id,
                               buyer_id=people["buyer"], reason="fraudulent", currency="EUR",
                               amount=6490, provider="sandbox", psp_reference="dp_test"))
    db.session.commit()
    with pytest.raises(Conflict, match="disputed with the card issuer"):
        refunds.request_refund(payment.id, reason="x", actor=SUPPORT, by="support")


def test_a_psp_refusal_fails_the_refund_and_frees_its_amount(client, people, stack, psp,
                                                            swap_provider):
    payment = captured(client, people, stack, psp)
    swap_provider(closed_port_url())
    with pytest.raises(refunds.RefundFailed, match="The refund was not made: the payment "
                       "provider could not be reached. Nothing was refunded.") as caught:
        refunds.request_refund(payment.id, amount=6490, reason="x", actor=SUPPORT, by="support")
    swap_provider(None)

    refund = db.session.get(Refund, caught.value.refund_id)
    assert refund.status == "failed" and refund.failure_reason and refund.settled_at
    assert postings("refund") == [] and fresh(payment.id).status == "captured"
    # The failed refund reserves nothing: the whole amount can be refunded now.
    assert refunds.request_refund(payment.id, amount=6490, reason="x", actor=SUPPORT,
                                  by="support").status == "succeeded"


def test_the_psp_refusing_more_than_it_holds_fails_cleanly(client, people, stack, psp):
    payment = captured(client, people, stack, psp)
    # Someone refunded at the PSP's dashboard: the PSP has only 4.90 left to refund.
    psp_call(stack["psp_url"], "POST", "/v1/refunds",
             {"payment_session": payment.psp_reference, "amount": 6000})
    with pytest.raises(refunds.RefundFailed, match="more than the 490 left"):
        refunds.request_refund(payment.id, amount=1000, reason="x", actor=SUPPORT, by="support")
    assert postings("refund") == []


def test_a_refund_made_at_the_psp_dashboard_puts_the_payment_in_review(client, people, stack,
                                                                       psp):
    payment = captured(client, people, stack, psp)
    outside = psp_call(stack["psp_url"], "POST", "/v1/refunds",
                       {"payment_session": payment.psp_reference, "amount": 700}).json()
    settle(psp)

    payment = fresh(payment.id)
    assert payment.needs_review and "not made through Holdfast" in payment.review_reason
    (event,) = db.session.execute(select(WebhookEvent).where(
        WebhookEvent.object_id == outside["id"])).scalars()
    assert event.status == "processed" and "unknown refund" in event.outcome
    # A payment re-fetch saying "partially refunded" moves nothing: refunds own that status.
    actions.refresh(payment.id, SUPPORT)
    payment = fresh(payment.id)
    assert (payment.status, payment.amount_refunded) == ("captured", 0)
    assert postings("refund") == []


def test_a_lost_chargeback_is_booked_on_the_lines_as_a_refund_would_be(client, people, stack,
                                                                       psp):
    from app.database import unit_of_work
    from app.domain import ledger as rules

    payment = captured(client, people, stack, psp)
    by_seller = holds(payment)
    with unit_of_work():
        shares = refunds.allocate_lines(payment.id, 1000)
        ledger.post(rules.dispute_opened("sandbox", "EUR", 1000, 1500, {}), "test:opened")
        ledger.post(rules.dispute_lost("sandbox", "EUR", 1000, 1500, "seller", shares, {}),
                    "test:lost")
        for share in shares:
            refunds.record_line_loss(share.hold_id, share.amount, share.fee_returned)

    assert sorted((s.hold_id, s.amount, s.fee_returned, s.released) for s in shares) == sorted([
        (by_seller[people["seller"]].id, 740, 74, False),
        (by_seller[people["other_seller"]].id, 260, 26, False)])
    mug = holds(payment)[people["seller"]]
    assert (mug.refunded_amount, mug.fee_returned) == (740, 74)
    # What the chargeback took is no longer refundable, and escrow matches the lines.
    assert refunds.plan(payment.id).total == 6490 - 1000
    assert ledger.balance(AccountKind.ESCROW, str(people["seller"]), "EUR") == 4800 - 740
    assert check_all() == []
