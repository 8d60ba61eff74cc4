"""The dispute centre's pages: who may reach them, the queue and its htmx refresh, a case's
timeline, assignment, notes, evidence, liability, claim decisions with their preview, file
downloads, and the seller's chargeback page."""
from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from app.extensions import db
from app.models import AuditRecord, DisputeCase, Refund
from app.services.audit import Actor
from app.services.disputes import claims, evidence
from app.services.form_intents import mint
from tests.flows import form_key, login, psp_call
from tests.services.disputes.test_svc_chargebacks import case_of, disputed_order

HTMX = {"HX-Request": "true"}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _client(app, who: str):
    client = app.test_client()
    login(client, who)
    return client


def _html(response) -> str:
    return response.get_data(as_text=True)


def _case(case_id: int) -> DisputeCase:
    db.session.expire_all()
    return db.session.get(DisputeCase, case_id)


def _audited(action: str, target: str) -> bool:
    db.session.rollback()
    return db.session.execute(select(AuditRecord.id).where(
        AuditRecord.action == action, AuditRecord.target == target)).first() is not None


@pytest.fixture
def chargeback(app, people, stack, psp) -> DisputeCase:
    """An open chargeback on a mug (seller) and a candle (other seller), both held."""
    return case_of(disputed_order(app, people, stack, psp))


@pytest.fixture
def claim(app, people, stack, psp) -> DisputeCase:
    """A buyer's claim on 2 mugs (48.00, held), contested by the seller with a photo."""
    from tests import flows

    order_id = flows.paid_order(app.test_client(), people, stack, psp, {"mug": 2})
    db.session.expire_all()
    line = flows.latest_payment(order_id).order.lines[0]
    buyer = Actor("buyer@test.example", "127.0.0.1", people["buyer"])
    case = claims.open_claim(people["buyer"], line.id, "not_as_described", "It is cracked.", [],
                             buyer)
    photo = FileStorage(io.BytesIO(PNG), filename="../../etc/packed.png",
                        content_type="image/png")
    claims.contest(people["seller"], case.id, "It left here intact.", [photo],
                   Actor("seller@test.example", "127.0.0.1", people["seller"]))
    return _case(case.id)


@pytest.mark.parametrize("who, status", [("buyer", 403), ("seller", 403)])
def test_parties_cannot_reach_the_dispute_centre(app, people, who, status):
    client = _client(app, who)
    assert client.get("/support/disputes").status_code == status
    assert client.get("/support/disputes/1").status_code == status
    assert client.post("/support/disputes/1/notes", data={"body": "x"}).status_code == status


def test_anonymous_is_sent_to_log_in(app):
    response = app.test_client().get("/support/disputes")
    assert response.status_code in (302, 303) and "/login" in response.headers["Location"]


def test_queue_lists_cases_with_countdown_and_refreshes_by_htmx(app, people, chargeback):
    support = _client(app, "support")
    page = _html(support.get("/support/disputes"))
    assert f"Case #{chargeback.id}" in page and "Disputes</a>" in page
    assert re.search(r"due in 6 d \d{1,2} h", page)
    assert 'hx-trigger="every 60s"' in page
    partial = support.get("/support/disputes?kind=chargeback", headers=HTMX)
    assert "<html" not in _html(partial) and f'data-case="{chargeback.id}"' in _html(partial)
    assert "HX-Request" in partial.headers["Vary"]
    empty = _html(support.get("/support/disputes?kind=claim&mine=1", headers=HTMX))
    assert "No cases match." in empty
    assert _audited("disputes.listed", "dispute_cases")


def test_case_page_shows_timeline_with_psp_and_ledger_entries(app, people, chargeback):
    page = _html(_client(app, "support").get(f"/support/disputes/{chargeback.id}"))
    for kind in ("status", "ledger", "psp_event", "notification"):
        assert f'data-kind="{kind}"' in page
    assert "Disputed amount and PSP fee reserved" in page
    assert "Send evidence" in page and "Set liability" in page
    assert "Preview" not in page  # decisions are for claims
    assert _audited("case.viewed", f"case:{chargeback.id}")


def test_assign_to_me_and_notes_stay_internal(app, people, chargeback):
    support = _client(app, "support")
    response = support.post(f"/support/disputes/{chargeback.id}/assign",
                            data={"staff_id": people["support"]})
    assert response.status_code == 303
    assert _case(chargeback.id).assigned_to == people["support"]
    support.post(f"/support/disputes/{chargeback.id}/notes",
                 data={"body": "Seller says DHL has a signature."})
    page = _html(support.get(f"/support/disputes/{chargeback.id}"))
    assert "Seller says DHL has a signature." in page and "internal" in page
    mine = _html(support.get("/support/disputes?mine=1", headers=HTMX))
    assert f'data-case="{chargeback.id}"' in mine
    # Neither the seller nor the buyer ever sees the note or the assignment.
    seller_page = _html(_client(app, "seller").get(f"/seller/chargebacks/{chargeback.id}"))
    assert "DHL has a signature" not in seller_page and "Assigned to" not in seller_page
    # Assigning to a buyer is refused and changes nothing.
    support.post(f"/support/disputes/{chargeback.id}/assign", data={"staff_id": people["buyer"]})
    assert _case(chargeback.id).assigned_to == people["support"]


def test_support_sends_evidence_and_sets_liability(app, people, stack, chargeback):
    support = _client(app, "support")
    response = support.post(f"/support/disputes/{chargeback.id}/liability",
                            data={"liable": "platform", "reason": "Our fraud screen missed it"})
    assert response.status_code == 303 and _case(chargeback.id).liable == "platform"
    response = support.post(f"/support/disputes/{chargeback.id}/evidence",
                            data={"shipping_tracking_number": "JD0142", "submit_now": "y"},
                            follow_redirects=True)
    assert "Evidence sent to the PSP." in _html(response)
    assert _case(chargeback.id).status == "under_review"
    at_psp = psp_call(stack["psp_url"], "GET", f"/v1/disputes/{chargeback.psp_reference}").json()
    assert at_psp["evidence"] == {"shipping_tracking_number": "JD0142"}
    again = support.post(f"/support/disputes/{chargeback.id}/evidence",
                         data={"uncategorized_text": "more"}, follow_redirects=True)
    assert "evidence can no longer be sent" in _html(again)


@pytest.mark.parametrize("action, data", [
    ("liability", {"liable": "platform", "reason": "x"}),
    ("evidence", {"uncategorized_text": "x"}),
    ("preview", {"action": "release"}),
    ("decide", {"action": "release"}),
])
def test_money_actions_want_a_recent_code(app, people, chargeback, action, data):
    support = _client(app, "support")
    with support.session_transaction() as session:
        session["mfa_at"] -= 301
    response = support.post(f"/support/disputes/{chargeback.id}/{action}", data=data)
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/account/code")
    case = _case(chargeback.id)
    assert (case.liable, case.status) == (None, "needs_response")


def test_seller_chargeback_pages(app, people, chargeback):
    seller = _client(app, "seller")
    listing = _html(seller.get("/seller/chargebacks"))
    assert f"Chargeback #{chargeback.id}" in listing and "due in 6 d" in listing
    response = seller.post(f"/seller/chargebacks/{chargeback.id}/evidence",
                           data={"product_description": "A stoneware mug.",
                                 "submit_now": ""}, follow_redirects=True)
    assert "Evidence staged at the PSP." in _html(response)
    assert _case(chargeback.id).status == "needs_response"  # staged only
    # A seller with no line on the order, and a buyer, get nothing.
    assert _client(app, "other_buyer").get(
        f"/seller/chargebacks/{chargeback.id}").status_code == 403
    assert _audited("chargeback.evidence_submitted", f"case:{chargeback.id}")


def test_seller_without_lines_on_the_order_gets_404(app, people, stack, psp):
    order_id = disputed_order(app, people, stack, psp, {"mug": 1})
    case = case_of(order_id)
    other = _client(app, "other_seller")
    assert other.get(f"/seller/chargebacks/{case.id}").status_code == 404
    assert other.post(f"/seller/chargebacks/{case.id}/evidence",
                      data={"uncategorized_text": "mine"}).status_code == 404
    assert f"Chargeback #{case.id}" not in _html(other.get("/seller/chargebacks"))
    assert _audited("access.denied", f"case:{case.id}")


def test_claim_preview_then_confirm_refunds_part(app, people, claim):
    support = _client(app, "support")
    page = _html(support.get(f"/support/disputes/{claim.id}"))
    assert "It left here intact." in page and "packed.png" in page and "Preview" in page
    preview = support.post(f"/support/disputes/{claim.id}/preview",
                           data={"action": "refund_partial", "amount": "24.00"})
    html = _html(preview)
    assert preview.status_code == 200 and "who pays what" in html
    assert re.search(r'data-kind="buyer_refund">€24\.00<', html)
    assert re.search(r'data-kind="from_escrow">€24\.00<', html)
    assert re.search(r'data-kind="fee_returned">€2\.40<', html)
    assert _case(claim.id).status == "contested"  # a preview changes nothing
    done = support.post(f"/support/disputes/{claim.id}/decide",
                        data={"action": "refund_partial", "amount": "24.00",
                              "intent": mint()},
                        follow_redirects=True)
    assert "Decision applied." in _html(done)
    decided = _case(claim.id)
    assert (decided.status, decided.resolution) == ("resolved", "refund_partial")


def test_claim_preview_refuses_a_bad_amount(app, people, claim):
    support = _client(app, "support")
    response = support.post(f"/support/disputes/{claim.id}/preview",
                            data={"action": "split", "amount": "480.00"},
                            follow_redirects=True)
    assert "less than the €48.00 left" in _html(response)
    assert _case(claim.id).status == "contested"


def test_evidence_files_download_as_attachments_for_staff(app, people, claim):
    row = evidence.files_by_event(claim.id)
    files = [f for group in row.values() for f in group]
    assert files
    support = _client(app, "support")
    response = support.get(f"/support/disputes/{claim.id}/files/{files[0].id}")
    assert response.status_code == 200 and response.data == PNG
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert "/" not in files[0].display_name.replace("packed.png", "")
    assert support.get(f"/support/disputes/{claim.id + 1}/files/{files[0].id}"
                       ).status_code == 404
    assert _audited("case.file_downloaded", f"case:{claim.id}")


def test_every_case_form_carries_the_csrf_token(app, people, chargeback, monkeypatch):
    support = _client(app, "support")
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    for action, data in [("assign", {"staff_id": people["support"]}),
                         ("notes", {"body": "forged"}),
                         ("liability", {"liable": "platform", "reason": "forged"}),
                         ("evidence", {"uncategorized_text": "forged"})]:
        assert support.post(f"/support/disputes/{chargeback.id}/{action}",
                            data=data).status_code == 400
    case = _case(chargeback.id)
    assert (case.assigned_to, case.liable, case.status) == (None, None, "needs_response")
    html = _html(support.get(f"/support/disputes/{chargeback.id}"))
    forms = re.findall(r"<form method=\"post\".*?</form>", html, re.DOTALL)
    assert len(forms) >= 5 and all('name="csrf_token"' in form for form in forms)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    response = support.post(f"/support/disputes/{chargeback.id}/notes",
                            data={"body": "with a token", "csrf_token": token})
    assert response.status_code == 303


@pytest.mark.parametrize("data, message", [
    ({"action": "split"}, "Enter an amount."),                     # a split with no amount
    ({"action": "refund_partial", "amount": "zwölf"}, "is not an amount"),
    ({"action": "split", "amount": "480,00"}, "less than the €48.00 left"),  # over the limit
])
def test_claim_decision_errors_are_next_to_the_amount(app, people, claim, data, message):
    support = _client(app, "support")
    response = support.post(f"/support/disputes/{claim.id}/preview", data=data)
    assert response.status_code in (400, 409)
    html = _html(response)
    assert re.search(r'<input[^>]*aria-describedby="[^"]*amount-error', html), html
    assert re.search(rf'id="amount-error">[^<]*{re.escape(message)}', html), html
    assert _case(claim.id).status == "contested"


def test_case_page_states_one_liability_and_evidence_wants_a_real_date(app, people, chargeback):
    support = _client(app, "support")
    page = _html(support.get(f"/support/disputes/{chargeback.id}"))
    assert re.search(r'id="liable-if-lost" data-liable="seller">the seller pays', page)
    assert re.search(r'<option selected value="seller">The seller</option>', page)
    assert not re.search(r'<input[^>]*checked[^>]*name="submit_now"', page)
    refused = support.post(f"/support/disputes/{chargeback.id}/evidence",
                           data={"shipping_date": "not a date", "submit_now": "y"})
    assert refused.status_code == 400
    assert re.search(r'id="shipping_date-error">Enter the date it shipped as YYYY-MM-DD',
                     _html(refused))
    assert _case(chargeback.id).status == "needs_response"


def test_a_decision_confirmed_twice_refunds_once(app, people, claim, stack):
    support = _client(app, "support")
    action = f"/support/disputes/{claim.id}/decide"
    preview = support.post(f"/support/disputes/{claim.id}/preview",
                           data={"action": "refund_partial", "amount": "24.00"})
    key = form_key(_html(preview), action)
    form = {"action": "refund_partial", "amount": "24.00", "intent": key}

    first = support.post(action, data=form, follow_redirects=True)
    again = support.post(action, data=form, follow_redirects=True)

    assert "Decision applied." in _html(first) and "Decision applied." in _html(again)
    refunds = db.session.execute(select(Refund).where(Refund.case_id == claim.id)
                                 ).scalars().all()
    assert [r.amount for r in refunds] == [2400]
    # The PSP's own record: one refund of €24.00 executed on the payment.
    executed = psp_call(stack["psp_url"], "GET", "/v1/_stats").json()["executions"]
    assert sum(n for key_, n in executed.items() if key_ == refunds[0].idempotency_key) == 1
