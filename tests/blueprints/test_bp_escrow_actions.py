"""Escrow from the pages: the seller ships, the buyer confirms receipt, support decides."""
from __future__ import annotations

import re

import pytest

from app.domain.ledger import AccountKind
from app.extensions import db
from app.models import AuditRecord
from app.services.form_intents import mint
from app.services.money import ledger
from tests.blueprints.money_steps import holds, paid_order
from tests.flows import form_key, login

HTMX = {"HX-Request": "true"}


def _client(app, who: str):
    client = app.test_client()
    login(client, who)
    return client


def _html(response) -> str:
    return response.get_data(as_text=True)


def _available(seller_id: int) -> int:
    db.session.expire_all()
    return ledger.balance(AccountKind.SELLER_AVAILABLE, str(seller_id), "EUR")


@pytest.fixture
def order(app, people, stack, psp) -> int:
    """A captured order: mug (seller) and candle (other seller)."""
    return paid_order(app, people, stack, psp)


# --- The seller ships -----------------------------------------------------------------------

def test_shipping_swaps_the_list_and_announces_the_change(app, people, order):
    mug = holds(order)["Mug"]
    seller = _client(app, "seller")
    assert f'data-hold="{mug.id}"' in _html(seller.get("/seller/to-ship", headers=HTMX))
    response = seller.post(f"/seller/escrow/{mug.id}/ship", data={"tracking_ref": " TRK-1 "},
                           headers=HTMX)
    assert response.status_code == 200
    assert response.headers["HX-Trigger"] == "escrow-changed"
    assert 'id="to-ship"' in _html(response) and "<html" not in _html(response)
    assert "Marked as shipped" in _html(response) and "Nothing to ship." in _html(response)
    shipped = holds(order)["Mug"]
    assert shipped.tracking_ref == "TRK-1" and shipped.release_due_at is not None
    escrow_html = _html(seller.get("/seller/escrow", headers=HTMX))
    assert re.search(r"Held until the buyer confirms receipt, or \d{1,2} \w+( \d{4})? at the "
                     r"latest\.", escrow_html)
    assert "TRK-1" in escrow_html


def test_shipping_twice_is_refused_with_the_reason(app, people, order):
    mug = holds(order)["Mug"]
    seller = _client(app, "seller")
    seller.post(f"/seller/escrow/{mug.id}/ship", data={"tracking_ref": ""}, headers=HTMX)
    again = seller.post(f"/seller/escrow/{mug.id}/ship", data={"tracking_ref": "X"},
                        headers=HTMX)
    assert again.status_code == 409
    assert "already marked as shipped" in _html(again) and 'role="alert"' in _html(again)
    assert holds(order)["Mug"].tracking_ref is None


def test_another_sellers_line_cannot_be_shipped(app, people, order):
    candle = holds(order)["Candle"]
    seller = _client(app, "seller")
    assert f'data-hold="{candle.id}"' not in _html(seller.get("/seller"))
    assert seller.post(f"/seller/escrow/{candle.id}/ship", data={},
                       headers=HTMX).status_code == 404
    assert seller.post("/seller/escrow/999999/ship", data={}).status_code == 404
    assert holds(order)["Candle"].shipped_at is None


def test_a_plain_ship_post_redirects_back(app, people, order):
    mug = holds(order)["Mug"]
    seller = _client(app, "seller")
    response = seller.post(f"/seller/escrow/{mug.id}/ship", data={"tracking_ref": "T" * 65})
    assert response.status_code == 303 and response.headers["Location"].endswith("/seller")
    assert "at most 64 characters" in _html(seller.get("/seller"))
    assert holds(order)["Mug"].shipped_at is None


# --- The buyer confirms receipt --------------------------------------------------------------

def test_the_buyer_sees_why_each_line_is_held(app, people, order):
    buyer = _client(app, "buyer")
    html = _html(buyer.get(f"/orders/{order}"))
    assert html.count("Held until the seller ships and the buyer confirms receipt") == 2
    assert "Confirm receipt" not in html  # nothing is shipped yet


def test_confirming_a_shipped_line_releases_the_share_minus_the_fee(app, people, order):
    mug = holds(order)["Mug"]
    _client(app, "seller").post(f"/seller/escrow/{mug.id}/ship", data={"tracking_ref": "T1"})
    buyer = _client(app, "buyer")
    html = _html(buyer.get(f"/orders/{order}"))
    assert html.count(">Confirm receipt</button>") == 1
    assert f"/orders/{order}/lines/{mug.id}/confirm" in html
    response = buyer.post(f"/orders/{order}/lines/{mug.id}/confirm")
    assert response.status_code == 303 and response.headers["Location"].endswith(
        f"/orders/{order}")
    assert holds(order)["Mug"].released_by == "buyer"
    assert _available(people["seller"]) == 4800 - 480
    after = _html(buyer.get(f"/orders/{order}"))
    assert "the seller has been paid" in after and "Released to the seller on" in after
    assert "Confirm receipt</button>" not in after


def test_a_line_not_shipped_yet_cannot_be_confirmed(app, people, order):
    mug = holds(order)["Mug"]
    buyer = _client(app, "buyer")
    assert buyer.post(f"/orders/{order}/lines/{mug.id}/confirm").status_code == 303
    assert "The seller has not shipped this item yet." in _html(buyer.get(f"/orders/{order}"))
    assert holds(order)["Mug"].status == "held"


def test_another_buyers_line_answers_404(app, people, stack, psp, order):
    mug = holds(order)["Mug"]
    _client(app, "seller").post(f"/seller/escrow/{mug.id}/ship", data={})
    other = _client(app, "other_buyer")
    assert other.post(f"/orders/{order}/lines/{mug.id}/confirm").status_code == 404
    # Their own order's id in the path does not help either.
    theirs = paid_order(app, people, stack, psp, buyer="other_buyer")
    assert other.post(f"/orders/{theirs}/lines/{mug.id}/confirm").status_code == 404
    assert holds(order)["Mug"].status == "held"
    assert _available(people["seller"]) == 0


# --- Support decides -------------------------------------------------------------------------

def _payment_page(order_id: int) -> str:
    from tests.flows import latest_payment

    return f"/support/payments/{latest_payment(order_id).id}"


def test_support_sees_the_holds_with_their_buttons(app, people, order):
    support = _client(app, "support")
    html = _html(support.get(_payment_page(order)))
    mug, candle = holds(order)["Mug"], holds(order)["Candle"]
    for hold in (mug, candle):
        assert f"/support/escrow/{hold.id}/release" in html
        assert f"/support/escrow/{hold.id}/hold" in html
        assert f"/support/escrow/{hold.id}/unhold" not in html


def test_support_holds_then_lets_go_then_releases(app, people, order):
    mug = holds(order)["Mug"]
    support, page = _client(app, "support"), _payment_page(order)
    response = support.post(f"/support/escrow/{mug.id}/hold", data={"intent": mint()})
    assert response.status_code == 303 and response.headers["Location"].endswith(page)
    assert holds(order)["Mug"].status == "on_hold"
    html = _html(support.get(page))
    assert "Held by support while a question is settled." in html
    assert f"/support/escrow/{mug.id}/unhold" in html

    _client(app, "seller").post(f"/seller/escrow/{mug.id}/ship", data={})
    buyer = _client(app, "buyer")
    assert "Confirm receipt</button>" not in _html(buyer.get(f"/orders/{order}"))
    buyer.post(f"/orders/{order}/lines/{mug.id}/confirm")
    assert "Support is looking at this order" in _html(buyer.get(f"/orders/{order}"))
    assert holds(order)["Mug"].status == "on_hold"

    support.post(f"/support/escrow/{mug.id}/unhold", data={"intent": mint()})
    assert holds(order)["Mug"].status == "held"
    support.post(f"/support/escrow/{mug.id}/release", data={"intent": mint()})
    assert holds(order)["Mug"].released_by == "support"
    assert _available(people["seller"]) == 4320
    assert db.session.query(AuditRecord).filter_by(action="escrow.hold").count() == 1


def test_a_decision_that_no_longer_applies_is_explained_not_a_500(app, people, order):
    mug = holds(order)["Mug"]
    support = _client(app, "support")
    support.post(f"/support/escrow/{mug.id}/release", data={"intent": mint()})
    for decision in ("release", "hold"):
        response = support.post(f"/support/escrow/{mug.id}/{decision}",
                                data={"intent": mint()})
        assert response.status_code == 303
    html = _html(support.get(_payment_page(order)))
    assert "This line is released; it cannot be released now" in html
    assert "This line is released; it cannot be put on hold now" in html
    assert _available(people["seller"]) == 4320  # released once


def test_unknown_decisions_and_holds_answer_404(app, people, order):
    support = _client(app, "support")
    mug = holds(order)["Mug"]
    assert support.post(f"/support/escrow/{mug.id}/refund",
                        data={"intent": mint()}).status_code == 404
    assert support.post("/support/escrow/999999/release",
                        data={"intent": mint()}).status_code == 404
    assert holds(order)["Mug"].status == "held"


@pytest.mark.parametrize("who", ["buyer", "seller"])
def test_only_support_and_admins_decide(app, people, order, who):
    mug = holds(order)["Mug"]
    assert _client(app, who).post(f"/support/escrow/{mug.id}/release",
                                  data={"intent": mint()}).status_code == 403
    assert _client(app, "admin").post(f"/support/escrow/{mug.id}/hold",
                                      data={"intent": mint()}).status_code == 303
    assert holds(order)["Mug"].status == "on_hold"


def test_a_stale_authentication_code_is_asked_for_again_before_releasing(app, people, order):
    mug = holds(order)["Mug"]
    support = _client(app, "support")
    with support.session_transaction() as session:
        session["mfa_at"] -= 301
    response = support.post(f"/support/escrow/{mug.id}/release", data={"intent": mint()})
    assert response.status_code == 303 and "/account/code" in response.headers["Location"]
    assert holds(order)["Mug"].status == "held"


def test_the_release_button_pressed_twice_releases_once(app, people, order):
    mug = holds(order)["Mug"]
    support = _client(app, "support")
    action = f"/support/escrow/{mug.id}/release"
    key = form_key(_html(support.get(_payment_page(order))), action)

    first = support.post(action, data={"intent": key}, follow_redirects=True)
    again = support.post(action, data={"intent": key}, follow_redirects=True)

    assert "Released to the seller." in _html(first) and "Released to the seller." in _html(again)
    assert "cannot be released now" not in _html(again)  # told what the first one did
    assert _available(people["seller"]) == 4320
    assert db.session.query(AuditRecord).filter_by(action="escrow.released").count() == 1


def test_a_release_without_the_forms_key_changes_nothing(app, people, order):
    mug = holds(order)["Mug"]
    response = _client(app, "support").post(f"/support/escrow/{mug.id}/release",
                                            follow_redirects=True)
    assert "This form was out of date, so nothing was changed." in _html(response)
    assert holds(order)["Mug"].status == "held" and _available(people["seller"]) == 0
