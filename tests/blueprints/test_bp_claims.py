"""Claims from the pages: the buyer opens one from the order, the seller answers, either side
escalates, the buyer withdraws; other people's claims answer 404."""
from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditRecord, DisputeCase, EvidenceFile, Notification
from app.models.refunds import Refund
from tests.blueprints.money_steps import holds, paid_order
from tests.flows import login

PDF = b"%PDF-1.4\n% delivery receipt\n%%EOF\n"
JSON = {"Accept": "application/json"}


def _client(app, who: str):
    client = app.test_client()
    login(client, who)
    return client


def _html(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def order(app, people, stack, psp) -> int:
    """A captured order: 2 mugs (seller) and a candle (other seller)."""
    return paid_order(app, people, stack, psp)


def _open(buyer, order: int, title: str = "Mug", **extra) -> int:
    line_id = holds(order)[title].order_line_id
    response = buyer.post(f"/claims/new/{line_id}", data={
        "reason": "not_received", "message": "Nothing came.", **extra},
        content_type="multipart/form-data")
    assert response.status_code == 303, _html(response)[:500]
    return int(response.headers["Location"].rstrip("/").split("/")[-1])


def _case(case_id: int) -> DisputeCase:
    db.session.expire_all()
    return db.session.get(DisputeCase, case_id)


# --- the buyer ------------------------------------------------------------------------------------

def test_the_order_page_offers_a_claim_per_paid_line(app, people, order):
    buyer = _client(app, "buyer")
    html = _html(buyer.get(f"/orders/{order}"))
    lines = holds(order)
    for title in ("Mug", "Candle"):
        assert f'href="/claims/new/{lines[title].order_line_id}"' in html
    assert html.count(">Open a claim</a>") == 2
    form = _html(buyer.get(f"/claims/new/{lines['Mug'].order_line_id}"))
    assert "Mug" in form and 'enctype="multipart/form-data"' in form
    assert 'name="reason"' in form and "PDF, PNG, JPEG or plain text" in form


def test_the_buyer_opens_a_claim_and_sees_it(app, people, order):
    buyer = _client(app, "buyer")
    case_id = _open(buyer, order, files=[(io.BytesIO(PDF), "receipt.pdf")])
    page = _html(buyer.get(f"/claims/{case_id}"))
    assert "Your claim is open" in page and "Nothing came." in page
    assert 'data-status="open"' in page and "receipt.pdf" in page
    assert "Withdraw the claim" in page and "Ask support to decide" in page
    assert "Accept and refund" not in page  # the seller's buttons
    html = _html(buyer.get(f"/orders/{order}"))
    assert f'href="/claims/{case_id}"' in html and html.count(">Open a claim</a>") == 1
    assert f'data-case="{case_id}"' in _html(buyer.get("/claims"))
    again = buyer.get(f"/claims/new/{holds(order)['Mug'].order_line_id}")
    assert again.status_code == 303 and again.headers["Location"].endswith(f"/claims/{case_id}")
    assert holds(order)["Mug"].status == "on_hold"
    note = db.session.execute(select(Notification).where(
        Notification.user_id == people["seller"], Notification.kind.like("claim%"))).scalar_one()
    assert "opened a claim" in note.subject


def test_a_form_without_reason_is_shown_again_with_400(app, people, order):
    buyer = _client(app, "buyer")
    line_id = holds(order)["Mug"].order_line_id
    response = buyer.post(f"/claims/new/{line_id}", data={"message": "Where is it?"})
    assert response.status_code == 400
    assert "Choose why you are opening a claim." in _html(response)
    assert "Where is it?" in _html(response)  # what was typed is kept
    assert db.session.query(DisputeCase).count() == 0


def test_a_second_claim_on_the_line_is_refused_with_409(app, people, order):
    buyer = _client(app, "buyer")
    _open(buyer, order)
    line_id = holds(order)["Mug"].order_line_id
    response = buyer.post(f"/claims/new/{line_id}", data={"reason": "not_received",
                                                          "message": "Again."})
    assert response.status_code == 409
    assert "already an open claim" in _html(response)
    response = buyer.post(f"/claims/new/{line_id}", headers=JSON,
                          data={"reason": "not_received", "message": "Again."})
    assert response.status_code == 409
    assert response.json["error"]["message"] == "There is already an open claim on this item."


def test_the_buyer_escalates_then_withdraws(app, people, order):
    buyer = _client(app, "buyer")
    case_id = _open(buyer, order)
    response = buyer.post(f"/claims/{case_id}/escalate")
    assert response.status_code == 303
    assert "now with our support team" in _html(buyer.get(f"/claims/{case_id}"))
    assert _case(case_id).status == "escalated"
    buyer.post(f"/claims/{case_id}/withdraw")
    assert _case(case_id).status == "withdrawn" and holds(order)["Mug"].status == "held"
    page = _html(buyer.get(f"/claims/{case_id}"))
    assert "You withdrew the claim." in page and "Write a message" not in page
    again = buyer.post(f"/claims/{case_id}/escalate")
    assert again.status_code == 409
    assert "This claim is withdrawn; it cannot be escalated now." in _html(again)
    json = buyer.post(f"/claims/{case_id}/withdraw", headers=JSON)
    assert json.status_code == 409 and json.json["error"]["code"] == 409


# --- the seller -----------------------------------------------------------------------------------

def test_the_seller_contests_with_a_file_and_the_buyer_sees_it(app, people, order):
    case_id = _open(_client(app, "buyer"), order)
    seller = _client(app, "seller")
    listed = _html(seller.get("/claims"))
    assert f'data-case="{case_id}"' in listed and "Claims on your sales" in listed
    page = _html(seller.get(f"/claims/{case_id}"))
    assert "Accept and refund €48.00" in page and "Contest the claim" in page
    assert "Withdraw the claim" not in page
    response = seller.post(f"/claims/{case_id}/contest", content_type="multipart/form-data",
                           data={"message": "Signed for on Monday.",
                                 "files": [(io.BytesIO(PDF), "signature.pdf")]})
    assert response.status_code == 303
    assert _case(case_id).status == "contested"
    row = db.session.execute(select(EvidenceFile)).scalar_one()
    buyer_page = _html(_client(app, "buyer").get(f"/claims/{case_id}"))
    assert "Signed for on Monday." in buyer_page
    assert f'href="/claims/files/{row.id}"' in buyer_page and "signature.pdf" in buyer_page
    assert "The seller contested the claim." in buyer_page


def test_the_seller_accepts_and_the_buyer_is_refunded(app, people, order):
    case_id = _open(_client(app, "buyer"), order)
    seller = _client(app, "seller")
    response = seller.post(f"/claims/{case_id}/accept", data={"message": "Sorry!"})
    assert response.status_code == 303
    assert "the buyer is being refunded" in _html(seller.get(f"/claims/{case_id}"))
    case = _case(case_id)
    assert (case.status, case.resolution) == ("resolved", "refund_full")
    assert db.session.execute(select(Refund.amount)).scalar_one() == 4800
    page = _html(_client(app, "buyer").get(f"/claims/{case_id}"))
    assert "Resolved: refund full" in page and "Sorry!" in page
    assert "€48.00 refunded to the buyer in full" in page


def test_a_contest_without_a_message_is_refused(app, people, order):
    case_id = _open(_client(app, "buyer"), order)
    seller = _client(app, "seller")
    response = seller.post(f"/claims/{case_id}/contest", data={"message": " "},
                           content_type="multipart/form-data")
    assert response.status_code == 400 and "Write a message." in _html(response)
    assert _case(case_id).status == "open"


def test_htmx_refreshes_only_the_timeline_while_open(app, people, order):
    buyer = _client(app, "buyer")
    case_id = _open(buyer, order)
    page = _html(buyer.get(f"/claims/{case_id}"))
    assert f'hx-get="/claims/{case_id}" hx-trigger="every 30s"' in page
    _client(app, "seller").post(f"/claims/{case_id}/messages", data={"message": "On its way."})
    partial = buyer.get(f"/claims/{case_id}", headers={"HX-Request": "true"})
    assert "HX-Request" in partial.headers["Vary"]
    html = _html(partial)
    assert 'id="timeline"' in html
    assert "On its way." in html and "<html" not in html and "Withdraw" not in html
    buyer.post(f"/claims/{case_id}/withdraw")
    assert "hx-trigger" not in _html(buyer.get(f"/claims/{case_id}"))


def test_replies_go_both_ways(app, people, order):
    buyer = _client(app, "buyer")
    case_id = _open(buyer, order)
    seller = _client(app, "seller")
    assert seller.post(f"/claims/{case_id}/messages",
                       data={"message": "Which <b>address</b>?"}).status_code == 303
    page = _html(buyer.get(f"/claims/{case_id}"))
    assert "Which &lt;b&gt;address&lt;/b&gt;?" in page and "<b>address</b>" not in page
    assert re.search(r"The seller wrote</strong>", page)


# --- other people's claims ------------------------------------------------------------------------

def test_other_peoples_claims_answer_404(app, people, order):
    case_id = _open(_client(app, "buyer"), order)
    other_buyer, other_seller = _client(app, "other_buyer"), _client(app, "other_seller")
    for client in (other_buyer, other_seller):
        assert client.get(f"/claims/{case_id}").status_code == 404
        assert client.post(f"/claims/{case_id}/messages",
                           data={"message": "hi"}).status_code == 404
        assert client.post(f"/claims/{case_id}/escalate").status_code == 404
        assert f'data-case="{case_id}"' not in _html(client.get("/claims"))
    assert other_buyer.post(f"/claims/{case_id}/withdraw").status_code == 404
    assert other_seller.post(f"/claims/{case_id}/accept").status_code == 404
    assert other_seller.post(f"/claims/{case_id}/contest", data={"message": "x"},
                             content_type="multipart/form-data").status_code == 404
    line_id = holds(order)["Candle"].order_line_id
    assert other_buyer.get(f"/claims/new/{line_id}").status_code == 404
    assert other_buyer.post(f"/claims/new/{line_id}", data={
        "reason": "not_received", "message": "mine?"}).status_code == 404
    assert _client(app, "buyer").get("/claims/999999").status_code == 404
    assert _case(case_id).status == "open"
    assert db.session.query(AuditRecord).filter_by(action="access.denied").count() >= 10


def test_each_side_has_only_its_own_buttons(app, people, order):
    case_id = _open(_client(app, "buyer"), order)
    buyer, seller = _client(app, "buyer"), _client(app, "seller")
    assert buyer.post(f"/claims/{case_id}/accept").status_code == 403
    assert buyer.post(f"/claims/{case_id}/contest", data={"message": "x"}).status_code == 403
    assert seller.post(f"/claims/{case_id}/withdraw").status_code == 403
    assert seller.get(f"/claims/new/{holds(order)['Mug'].order_line_id}").status_code == 403
    support = _client(app, "support")
    assert support.get("/claims").status_code == 403
    assert support.get(f"/claims/{case_id}").status_code == 403
    anonymous = app.test_client()
    assert anonymous.get(f"/claims/{case_id}").status_code == 302
    assert _case(case_id).status == "open"
