"""Refunds from the pages: the seller refunds their own line, support previews then confirms,
and the buyer sees the refund on their order."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.domain.ledger import AccountKind
from app.extensions import db
from app.models import AuditRecord, Payment
from app.models.refunds import Refund
from app.services.money import ledger, payouts
from tests.blueprints.money_steps import (
    SUPPORT,
    add_bank_account,
    holds,
    paid_order,
    release,
)
from tests.flows import latest_payment, login


def _client(app, who: str):
    client = app.test_client()
    login(client, who)
    return client


def _html(response) -> str:
    return response.get_data(as_text=True)


def _confirm(client, url: str, data: dict):
    """Preview, then post the confirmation with the one-time key the preview minted."""
    preview = client.post(url, data={**data, "step": "preview"})
    found = re.search(r'name="intent"[^>]*value="(rf_[0-9a-f]{32})"', _html(preview))
    assert found, _html(preview)[:2000]
    return client.post(url, data={**data, "step": "confirm", "intent": found.group(1)})


def _refunds() -> list[Refund]:
    db.session.commit()
    db.session.expire_all()
    return db.session.execute(select(Refund).order_by(Refund.id)).scalars().all()


@pytest.fixture
def order(app, people, stack, psp) -> int:
    """A captured order: 2 mugs (seller, 48.00) and a candle (other seller, 16.90)."""
    return paid_order(app, people, stack, psp)


# --- The seller -----------------------------------------------------------------------------

def test_the_seller_previews_then_refunds_part_of_a_held_line(app, people, order):
    mug = holds(order)["Mug"]
    seller = _client(app, "seller")
    assert f"/seller/lines/{mug.order_line_id}/refund" in _html(seller.get("/seller"))
    page = seller.get(f"/seller/lines/{mug.order_line_id}/refund")
    assert page.status_code == 200 and 'value="48.00"' in _html(page)

    preview = seller.post(f"/seller/lines/{mug.order_line_id}/refund",
                          data={"amount": "12.00", "reason": "one was chipped",
                                "step": "preview"})
    html = _html(preview)
    assert preview.status_code == 200 and "Confirm refund of €12.00" in html
    assert 'data-kind="from_escrow">€12.00' in html and 'data-kind="fee_returned">€1.20' in html
    assert _refunds() == []  # a preview moves nothing

    done = _confirm(seller, f"/seller/lines/{mug.order_line_id}/refund",
                    {"amount": "12.00", "reason": "one was chipped"})
    assert done.status_code == 303 and done.headers["Location"].endswith("/seller/refunds")
    (refund,) = _refunds()
    assert (refund.status, refund.amount, refund.requested_by) == ("succeeded", 1200, "seller")
    listing = _html(seller.get("/seller/refunds"))
    assert "Refunded €12.00 to the buyer." in listing and "one was chipped" in listing
    assert holds(order)["Mug"].refunded_amount == 1200


def test_a_seller_cannot_refund_another_sellers_line(app, people, order):
    candle = holds(order)["Candle"]
    seller = _client(app, "seller")
    assert seller.get(f"/seller/lines/{candle.order_line_id}/refund").status_code == 404
    response = seller.post(f"/seller/lines/{candle.order_line_id}/refund",
                           data={"amount": "1.00", "reason": "x", "step": "confirm"})
    assert response.status_code == 404
    assert seller.get("/seller/lines/999999/refund").status_code == 404
    assert _refunds() == []
    assert f'data-line="{candle.order_line_id}"' not in _html(seller.get("/seller/refunds"))


def test_a_seller_refunds_released_money_only_while_their_balance_covers_it(app, people,
                                                                           order):
    mug = holds(order)["Mug"]
    release(mug.id)
    seller = _client(app, "seller")
    url = f"/seller/lines/{mug.order_line_id}/refund"
    preview = seller.post(url, data={"amount": "24.00", "reason": "x", "step": "preview"})
    assert 'data-kind="from_balance">€21.60' in _html(preview)
    assert 'data-kind="available_after">€21.60' in _html(preview)
    _confirm(seller, url, {"amount": "24.00", "reason": "x"})
    add_bank_account(people["seller"])
    assert payouts.book_payout(people["seller"], "EUR", SUPPORT, manual=True)  # 21.60 paid out

    refused = seller.post(url, data={"amount": "24.00", "reason": "x", "step": "preview"})
    assert refused.status_code == 400
    assert "your available balance is €0.00. Support can refund it instead." in _html(refused)
    assert "Confirm refund" not in _html(refused)
    assert len(_refunds()) == 1
    assert ledger.balance(AccountKind.SELLER_AVAILABLE, str(people["seller"]), "EUR") == 0


def test_a_bad_amount_is_shown_on_the_form(app, people, order):
    mug = holds(order)["Mug"]
    seller = _client(app, "seller")
    for text, words in [("12.345", "2 decimal places"), ("abc", "is not an amount"),
                        ("48.01", "At most €48.00")]:
        response = seller.post(f"/seller/lines/{mug.order_line_id}/refund",
                               data={"amount": text, "reason": "x", "step": "confirm"})
        assert response.status_code == 400 and words in _html(response), text
    assert _refunds() == []


# --- Support --------------------------------------------------------------------------------

def _payment_page(order_id: int) -> str:
    return f"/support/payments/{latest_payment(order_id).id}"


def test_support_previews_who_pays_then_refunds_an_amount(app, people, order):
    release(holds(order)["Mug"].id)
    support = _client(app, "support")
    payment_id = latest_payment(order).id
    assert 'id="refund-form"' in _html(support.get(_payment_page(order)))

    preview = support.post(f"/support/payments/{payment_id}/refunds",
                           data={"amount": "64.90", "reason": "order lost", "step": "preview"})
    html = _html(preview)
    assert preview.status_code == 200 and "Confirm refund of €64.90" in html
    assert "PSP fee lost" in html and "netted against future sales" not in html
    assert _refunds() == []

    done = _confirm(support, f"/support/payments/{payment_id}/refunds",
                    {"amount": "64.90", "reason": "order lost"})
    assert done.status_code == 303
    (refund,) = _refunds()
    assert (refund.amount, refund.requested_by, refund.actor_id) == (6490, "support",
                                                                     people["support"])
    page = _html(support.get(_payment_page(order)))
    assert "Refunded €64.90 to the buyer." in page and f'data-refund="{refund.id}"' in page
    assert 'id="refund-form"' not in page  # nothing left to refund
    assert db.session.get(Payment, payment_id).status == "refunded"
    # The released mug was clawed back from the seller: exactly the 43.20 it had made available.
    assert ledger.balance(AccountKind.SELLER_AVAILABLE, str(people["seller"]), "EUR") == 0


def test_support_refunds_chosen_lines(app, people, order):
    candle = holds(order)["Candle"]
    support = _client(app, "support")
    payment_id = latest_payment(order).id
    data = {f"line_{candle.order_line_id}": "16.90", "amount": "", "reason": "no stock"}
    preview = support.post(f"/support/payments/{payment_id}/refunds",
                           data={**data, "step": "preview"})
    assert f'data-line="{candle.order_line_id}"' in _html(preview)
    assert f'name="line_{candle.order_line_id}" value="16.90"' in _html(preview)
    _confirm(support, f"/support/payments/{payment_id}/refunds", data)
    assert holds(order)["Candle"].status == "refunded" and holds(order)["Mug"].status == "held"


def test_support_is_refused_readably_and_it_is_audited(app, people, order):
    support = _client(app, "support")
    payment_id = latest_payment(order).id
    response = support.post(f"/support/payments/{payment_id}/refunds",
                            data={"amount": "99.00", "reason": "x", "step": "confirm",
                                  "intent": "rf_" + "0" * 32},
                            follow_redirects=True)
    assert "At most €64.90 can still be refunded" in _html(response)
    assert _refunds() == []
    failures = db.session.execute(select(AuditRecord).where(
        AuditRecord.action == "refund.requested", AuditRecord.outcome == "failure")).scalars()
    assert len(list(failures)) == 1


def test_support_refunds_need_a_recent_code_and_the_role(app, people, order):
    payment_id = latest_payment(order).id
    support = _client(app, "support")
    with support.session_transaction() as session:
        session["mfa_at"] -= 301
    response = support.post(f"/support/payments/{payment_id}/refunds",
                            data={"amount": "1.00", "reason": "x", "step": "confirm"})
    assert response.status_code == 303 and "/account/code" in response.headers["Location"]
    for who in ("buyer", "seller"):
        assert _client(app, who).post(f"/support/payments/{payment_id}/refunds",
                                      data={"amount": "1.00", "reason": "x",
                                            "step": "confirm"}).status_code == 403
    assert _refunds() == []


# --- The buyer ------------------------------------------------------------------------------

def test_the_buyer_sees_refunds_on_the_order(app, people, order):
    mug = holds(order)["Mug"]
    seller = _client(app, "seller")
    _confirm(seller, f"/seller/lines/{mug.order_line_id}/refund",
             {"amount": "5.00", "reason": "late delivery"})
    buyer = _client(app, "buyer")
    html = _html(buyer.get(f"/orders/{order}"))
    assert 'id="refunds"' in html and "€5.00" in html and "late delivery" in html
    assert "On its way back to your card" in html


# --- A confirmation posted twice (issue 11 §1.5) -----------------------------------------

def _psp_refunded(stack, payment_id: int) -> int:
    from tests.flows import psp_call

    payment = db.session.get(Payment, payment_id)
    return psp_call(stack["psp_url"], "GET", f"/v1/payment_sessions/"
                    f"{payment.psp_reference}").json()["amount_refunded"]


@pytest.mark.parametrize("who", ["seller", "support"])
def test_the_same_confirmation_posted_twice_refunds_once(app, people, order, stack, who):
    client = _client(app, who)
    mug = holds(order)["Mug"]
    payment_id = latest_payment(order).id
    url = (f"/seller/lines/{mug.order_line_id}/refund" if who == "seller"
           else f"/support/payments/{payment_id}/refunds")
    data = {"amount": "5.00", "reason": "scratched"}
    preview = client.post(url, data={**data, "step": "preview"})
    intent = re.search(r'name="intent"[^>]*value="(rf_[0-9a-f]{32})"', _html(preview)).group(1)

    for _ in range(2):  # a double click, a resent form
        answer = client.post(url, data={**data, "step": "confirm", "intent": intent})
        assert answer.status_code == 303

    (refund,) = _refunds()
    assert refund.amount == 500 and refund.idempotency_key == intent
    assert _psp_refunded(stack, payment_id) == 500


def test_a_confirmation_without_a_previews_key_only_previews(app, people, order):
    support = _client(app, "support")
    payment_id = latest_payment(order).id
    answer = support.post(f"/support/payments/{payment_id}/refunds",
                          data={"amount": "5.00", "reason": "x", "step": "confirm"})
    assert answer.status_code == 200 and "Confirm refund of €5.00" in _html(answer)
    assert _refunds() == []
