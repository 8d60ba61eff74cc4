"""Every route × every role has an expected outcome; other parties' objects answer 404 and are
audit-logged (ASVS 8.2, PCI DSS 10.2.1). A new route without an expectation fails here."""
from __future__ import annotations

import io
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage

from app import crypto
from app.domain.fees import FeeRule
from app.extensions import db
from app.models import AuditRecord, DisputeCase, EvidenceFile
from app.models.fulfilment import Address
from app.models.security import SavedPaymentMethod
from app.models.statements import SellerStatement, StatementDocument
from app.services.audit import Actor
from app.services.disputes import claims
from app.services.fraud import lists
from app.services.money import fee_rules
from tests.blueprints.money_steps import add_bank_account, holds, paid_order
from tests.flows import add, buyer_pays, latest_payment, login, order_and_start, settle

ROLES = ("anonymous", "buyer", "other_buyer", "seller", "other_seller", "support", "admin")
OK, LOGIN, FORBIDDEN, DENIED, ABSENT = "ok", "login", "403", "404 (audited)", "404"


def _table(anonymous=LOGIN, buyer=FORBIDDEN, other_buyer=None, seller=FORBIDDEN,
           other_seller=None, support=FORBIDDEN, admin=None) -> dict[str, str]:
    return {"anonymous": anonymous, "buyer": buyer,
            "other_buyer": buyer if other_buyer is None else other_buyer, "seller": seller,
            "other_seller": seller if other_seller is None else other_seller,
            "support": support, "admin": support if admin is None else admin}


PUBLIC = _table(OK, OK, seller=OK, support=OK)
SIGNED_IN = _table(LOGIN, OK, seller=OK, support=OK)
SECOND_STEP = _table(LOGIN, LOGIN, seller=LOGIN, support=LOGIN)
BUYER = _table(buyer=OK)
BUYERS_OBJECT = _table(buyer=OK, other_buyer=DENIED)  # the objects are `buyer`'s
SELLER = _table(seller=OK)
SELLERS_OBJECT = _table(seller=OK, other_seller=DENIED)  # the objects are `seller`'s
STAFF = _table(support=OK)
ADMIN = _table(admin=OK)
STAFF_MFA = _table(LOGIN, ABSENT, seller=ABSENT, support=OK)  # routes only staff have
# A claim on `seller`'s line of `buyer`'s order: both parties, nobody else.
CLAIM_PARTIES = _table(buyer=OK, other_buyer=DENIED, seller=OK, other_seller=DENIED)
# PSP webhooks are signature-checked, not session-checked: one route for every provider,
# tried here with the sandbox (a provider without keys answers 404: test_bp_webhooks.py).

EXPECTED: dict[tuple[str, str], dict[str, str]] = {
    ("GET", "shop.index"): PUBLIC,
    ("GET", "shop.item"): PUBLIC,
    ("GET", "health.healthz"): PUBLIC,
    ("GET", "favicon"): PUBLIC,
    ("GET", "auth.login"): PUBLIC,
    ("POST", "auth.login"): PUBLIC,
    ("GET", "auth.signup"): PUBLIC,
    ("POST", "auth.signup"): PUBLIC,
    # The second step of signing in: without a first step in progress, back to the first.
    ("GET", "auth.mfa_verify"): SECOND_STEP,
    ("POST", "auth.mfa_verify"): SECOND_STEP,
    ("GET", "auth.mfa_enrol"): SECOND_STEP,
    ("POST", "auth.mfa_enrol"): SECOND_STEP,
    ("POST", "webhooks.receive"): PUBLIC,  # signature-checked, not session-checked
    ("POST", "auth.logout"): SIGNED_IN,
    ("GET", "auth.change_password"): SIGNED_IN,
    ("POST", "auth.change_password"): SIGNED_IN,
    ("GET", "auth.mfa_confirm"): STAFF_MFA,
    ("POST", "auth.mfa_confirm"): STAFF_MFA,
    ("POST", "auth.new_recovery_codes"): STAFF_MFA,
    ("GET", "dev.mailbox"): SIGNED_IN,
    ("GET", "shop.view_cart"): BUYER,
    ("POST", "shop.add_to_cart"): BUYER,
    ("POST", "shop.update_cart"): BUYER,
    ("POST", "shop.set_country"): BUYER,
    ("GET", "shop.orders"): BUYER,
    ("POST", "checkout.place_order"): BUYER,
    ("GET", "checkout.saved_cards"): BUYER,
    ("GET", "shop.order"): BUYERS_OBJECT,
    ("POST", "shop.confirm_receipt"): BUYERS_OBJECT,
    ("GET", "checkout.pay"): BUYERS_OBJECT,
    ("GET", "checkout.card"): BUYERS_OBJECT,
    ("POST", "checkout.start"): BUYERS_OBJECT,
    ("GET", "checkout.returned"): BUYERS_OBJECT,
    ("GET", "checkout.status"): BUYERS_OBJECT,
    ("POST", "checkout.remove_card"): BUYERS_OBJECT,
    ("GET", "checkout.braintree"): BUYERS_OBJECT,
    ("POST", "checkout.braintree_nonce"): BUYERS_OBJECT,
    ("GET", "checkout.stripe_element"): BUYERS_OBJECT,
    ("GET", "checkout.card_fields_page"): BUYERS_OBJECT,
    ("POST", "checkout.pay_with_card_fields"): BUYERS_OBJECT,
    ("GET", "disputes.index"): _table(buyer=OK, seller=OK),
    ("GET", "disputes.open_claim"): BUYERS_OBJECT,
    ("POST", "disputes.open_claim"): BUYERS_OBJECT,
    ("GET", "disputes.claim"): CLAIM_PARTIES,
    ("POST", "disputes.message"): CLAIM_PARTIES,
    ("POST", "disputes.escalate"): CLAIM_PARTIES,
    ("POST", "disputes.withdraw"): BUYERS_OBJECT,
    ("POST", "disputes.accept"): SELLERS_OBJECT,
    ("POST", "disputes.contest"): SELLERS_OBJECT,
    # The claim's parties and staff (who reach it from the dispute centre too).
    ("GET", "disputes.evidence_file"): _table(buyer=OK, other_buyer=DENIED, seller=OK,
                                              other_seller=DENIED, support=OK),
    ("GET", "seller.dashboard"): SELLER,
    ("GET", "seller.balances_partial"): SELLER,
    ("GET", "seller.bank_account"): SELLER,
    ("POST", "seller.bank_account"): SELLER,
    ("GET", "seller.chart_partial"): SELLER,
    ("GET", "seller.escrow_partial"): SELLER,
    ("GET", "seller.fees_partial"): SELLER,
    ("GET", "seller.new_item"): SELLER,
    ("POST", "seller.new_item"): SELLER,
    ("GET", "seller.payout_settings_partial"): SELLER,
    ("POST", "seller.payout_settings"): SELLER,
    ("GET", "seller.payouts_partial"): SELLER,
    ("POST", "seller.pay_out_now"): SELLER,
    ("GET", "seller.statement_csv"): SELLER,
    ("GET", "seller.statements_page"): SELLER,
    ("POST", "seller.issue_statement"): SELLER,
    ("GET", "seller.statement_file"): SELLERS_OBJECT,
    ("GET", "seller.statement_signature"): SELLERS_OBJECT,
    ("GET", "shop.statement_keys_json"): PUBLIC,
    ("GET", "shop.statement_public_key"): PUBLIC,
    ("GET", "seller.to_ship_partial"): SELLER,
    ("GET", "seller.edit_item"): SELLERS_OBJECT,
    ("POST", "seller.edit_item"): SELLERS_OBJECT,
    ("POST", "seller.ship"): SELLERS_OBJECT,
    ("POST", "seller.ship_authorized"): SELLERS_OBJECT,  # per-shipment capture
    # Issue 17: fulfilment. A bad download token answers 410 to any buyer (the token, not the
    # session, names the delivery; open_download checks it is the buyer's own).
    ("POST", "seller.delivered"): SELLERS_OBJECT,
    ("GET", "seller.digital_item"): SELLERS_OBJECT,
    ("POST", "seller.set_digital_kind"): SELLERS_OBJECT,
    ("POST", "seller.add_keys"): SELLERS_OBJECT,
    ("POST", "seller.upload_file"): SELLERS_OBJECT,
    ("GET", "shop.addresses_page"): BUYER,
    ("POST", "shop.add_address"): BUYER,
    ("POST", "shop.remove_address"): BUYERS_OBJECT,
    ("GET", "shop.download"): BUYER,
    ("GET", "seller.stripe_account"): SELLER,
    ("POST", "seller.stripe_account"): SELLER,
    ("GET", "seller.refunds_page"): SELLER,
    ("GET", "seller.refund_line"): SELLERS_OBJECT,
    ("POST", "seller.refund_line"): SELLERS_OBJECT,
    ("GET", "seller.chargebacks_list"): SELLER,
    ("GET", "seller.chargeback"): SELLERS_OBJECT,
    ("POST", "seller.chargeback_evidence"): SELLERS_OBJECT,
    ("GET", "support.payments"): STAFF,
    ("GET", "support.payment"): STAFF,
    ("POST", "support.escrow_decision"): STAFF,
    ("POST", "support.refund_payment"): STAFF,
    ("GET", "support.unknown"): STAFF,
    ("POST", "support.recheck"): STAFF,
    ("GET", "support.disputes"): STAFF,
    ("GET", "support.case"): STAFF,
    ("POST", "support.assign"): STAFF,
    ("POST", "support.add_note"): STAFF,
    ("POST", "support.submit_evidence"): STAFF,
    ("POST", "support.set_liability"): STAFF,
    ("POST", "support.preview"): STAFF,
    ("POST", "support.decide"): STAFF,
    ("GET", "support.evidence_file"): STAFF,
    ("GET", "support.fraud_reviews"): STAFF,
    ("GET", "support.fraud_review"): STAFF,
    ("POST", "support.decide_fraud_review"): STAFF,
    ("GET", "support.fraud_lists"): STAFF,
    ("POST", "support.add_fraud_list_entry"): STAFF,
    ("POST", "support.remove_fraud_list_entry"): STAFF,
    ("GET", "support.audit_log"): ADMIN,
    ("GET", "support.search"): STAFF,
    ("GET", "admin.reports"): ADMIN,
    ("GET", "admin.report_csv"): ADMIN,
    ("GET", "admin.compliance_report"): ADMIN,
    ("GET", "admin.compliance_csv"): ADMIN,
    ("GET", "support.dead_letter_list"): STAFF,
    ("GET", "support.dead_letter_preview"): STAFF,
    ("POST", "support.dead_letter_replay"): STAFF,
    ("POST", "support.dead_letter_job_replay"): STAFF,
    ("GET", "support.reconciliation"): STAFF,
    ("POST", "support.reconciliation_import"): STAFF,
    ("GET", "support.reconciliation_progress"): STAFF,
    ("GET", "support.reconciliation_export"): STAFF,
    ("GET", "support.reconciliation_difference"): STAFF,
    ("POST", "support.reconciliation_act"): STAFF,
    ("GET", "admin.routing"): ADMIN,
    ("POST", "admin.update_routing"): ADMIN,
    ("GET", "admin.fraud"): ADMIN,
    ("POST", "admin.update_fraud_rules"): ADMIN,
    ("GET", "admin.staff"): ADMIN,
    ("GET", "admin.categories"): ADMIN,
    ("POST", "admin.add_category"): ADMIN,
    ("GET", "admin.payout_rails_page"): ADMIN,
    ("POST", "admin.set_payout_rail"): ADMIN,
    ("GET", "admin.fees"): ADMIN,
    ("POST", "admin.save_fee"): ADMIN,
    ("POST", "admin.delete_fee"): ADMIN,
    ("GET", "admin.tax_rates"): ADMIN,
    ("POST", "admin.set_tax_rate"): ADMIN,
    ("POST", "admin.remove_tax_rate"): ADMIN,
    ("POST", "admin.import_tax_rates"): ADMIN,
    ("GET", "admin.tax_report"): ADMIN,
    ("GET", "admin.tax_report_csv"): ADMIN,
    ("POST", "admin.create_staff"): ADMIN,
    ("POST", "admin.issue_enrolment_code"): ADMIN,
    ("POST", "admin.reset_mfa"): ADMIN,
}

# The seller's chargeback pages take the chargeback's id; every other <case_id> is the claim's.
CASE_OF = {"seller.chargeback": "chargeback_id", "seller.chargeback_evidence": "chargeback_id"}


def routes(app) -> list[tuple[str, str, str]]:
    """(method, endpoint, rule) of every route but static files; logout last (it ends the
    session the other requests use)."""
    found = [(method, rule.endpoint, rule.rule) for rule in app.url_map.iter_rules()
             if rule.endpoint != "static"
             for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return sorted(found, key=lambda r: (r[1] == "auth.logout", r[1], r[0]))


def _chargeback(app, people, stack, psp) -> int:
    """`buyer` pays a mug of `seller` with the sandbox's dispute card: the PSP opens a
    chargeback at capture and its webhook opens the case (its id). A one-seller order, so that
    `other_seller` is not a party (on a shared order both sellers are)."""
    client = app.test_client()
    login(client, "buyer")
    add(client, people["mug"])
    _, payment = order_and_start(client, "EUR", "hosted")
    buyer_pays(stack["psp_url"], payment.psp_reference, "pm_card_createDispute")
    settle(psp)
    db.session.expire_all()
    return db.session.execute(select(DisputeCase.id).where(
        DisputeCase.payment_id == payment.id, DisputeCase.kind == "chargeback")).scalar_one()


def _statement(seller_id: int) -> int:
    """A statement of `seller`'s (its bytes do not matter to who may fetch them)."""
    row = SellerStatement(seller_id=seller_id, period="month:2000-01", currency="EUR",
                          opening=0, closing=0, paid_out=0, key_id="matrix")
    row.documents.append(StatementDocument(format="html", filename="s.html", content=b"<p>",
                                           sha256="0" * 64, signature="{}"))
    db.session.add(row)
    db.session.commit()
    return row.id


@pytest.fixture
def world(app, people, stack, psp) -> dict:
    """Objects of each party: `buyer`'s paid order with a line of each seller (escrow holds),
    its payment, a saved card, a claim on the Mug line with an evidence file, and a chargeback
    on a second order (mugs only); `other_buyer`'s unpaid order; the sellers' items."""
    order_id = paid_order(app, people, stack, psp)
    lines = holds(order_id)
    other = app.test_client()
    login(other, "other_buyer")
    add(other, people["candle"])
    other.post("/checkout", data={"currency": "EUR"})
    card = SavedPaymentMethod(buyer_id=people["buyer"], provider="sandbox", brand="visa",
                              last4="4242", exp_month=12, exp_year=2099, fingerprint="f" * 64)
    card.sealed = crypto.encrypt(b"pm_saved_token", card.associated_data())
    db.session.add(card)
    db.session.commit()
    # The claim freezes the Mug hold; the escrow rows' outcomes do not depend on its state.
    case = claims.open_claim(people["buyer"], lines["Mug"].order_line_id, "not_received",
                             "Where is it?", [FileStorage(io.BytesIO(b"%PDF-1.4\n"),
                                                          filename="proof.pdf")],
                             Actor("buyer@test.example", "127.0.0.1"))
    file_id = db.session.execute(select(EvidenceFile.id)).scalar_one()
    return {"order_id": order_id, "hold_id": lines["Mug"].id, "item_id": people["mug"],
            "payment_id": latest_payment(order_id).id, "method_id": card.id,
            "decision": "hold", "case_id": case.id, "line_id": lines["Mug"].order_line_id,
            "order_line_id": lines["Mug"].order_line_id, "file_id": file_id,
            "chargeback_id": _chargeback(app, people, stack, psp), "provider": "sandbox",
            "entry_id": lists.add("watch", "email", "other_buyer@test.example", "matrix",
                                  Actor("support@test.example", "127.0.0.1")).id,
            "job_id": "no-such-failed-job", "token": "not-a-signed-token",
            "address_id": db.session.execute(select(Address.id).where(
                Address.user_id == people["buyer"])).scalar_one(), "fmt": "html",
            "statement_id": _statement(people["seller"]),
            "rule_id": fee_rules.set_rule(people["seller"], "ceramics", FeeRule(500),
                                          Actor("admin@test.example", "127.0.0.1")),
            "name": "totals", "line_capture_id": _authorized_line(app, people, stack, psp),
            **_reconciliation_rows()}


def _authorized_line(app, people, stack, psp) -> int:
    """`buyer`'s order of a Mug paid under per-shipment capture: `seller`'s authorized line."""
    from app.services.payments import captures

    policy = app.config["CAPTURE_POLICY"]
    app.config["CAPTURE_POLICY"] = "per_shipment"
    try:
        client = app.test_client()
        login(client, "buyer")
        add(client, people["mug"])
        order_id, payment = order_and_start(client, "EUR", "hosted")
        buyer_pays(stack["psp_url"], payment.psp_reference)
        settle(psp)
    finally:
        app.config["CAPTURE_POLICY"] = policy
    return captures.lines_of(latest_payment(order_id).id)[0].id


def _reconciliation_rows() -> dict:
    """A settlement import and a difference for the reconciliation pages' routes."""
    from app.models.reconciliation import Difference, SettlementImport

    run = SettlementImport(provider="sandbox", day="2026-01-02", status="done")
    diff = Difference(provider="sandbox", day="2026-01-02", kind="unknown_object",
                      type="adjustment", source="txn_matrix", currency="EUR", psp_net=-1)
    db.session.add_all([run, diff])
    db.session.commit()
    return {"import_id": run.id, "difference_id": diff.id, "action": "note"}


def url_for_rule(rule: str, ids: dict) -> str:
    path = rule
    for name, value in ids.items():
        path = path.replace(f"<int:{name}>", str(value)).replace(f"<{name}>", str(value))
    assert "<" not in path, f"no id for {rule}: add one to the world fixture"
    return path


def outcome(response) -> str:
    """The class of an answer: login redirect, 403, 404, or anything else (allowed)."""
    assert response.status_code < 500, response.get_data(as_text=True)[:300]
    if response.status_code in (302, 303) and \
            urlsplit(response.headers["Location"]).path == "/login":
        return LOGIN
    if response.status_code in (403, 404):
        return str(response.status_code)
    return OK


def denials() -> int:
    db.session.rollback()
    return db.session.execute(select(func.count()).select_from(AuditRecord).where(
        AuditRecord.action == "access.denied")).scalar_one()


def test_every_route_has_an_expected_outcome_for_every_role(app):
    listed = {(method, endpoint) for method, endpoint, _ in routes(app)}
    assert listed - set(EXPECTED) == set(), "routes without an authorization expectation"
    assert set(EXPECTED) - listed == set(), "expectations for routes that no longer exist"
    assert all(set(table) == set(ROLES) for table in EXPECTED.values())


@pytest.mark.parametrize("role", ROLES)
def test_each_route_answers_the_role_as_expected(app, world, role):
    client = app.test_client()
    if role != "anonymous":
        login(client, role)
    wrong = []
    for method, endpoint, rule in routes(app):
        expected = EXPECTED[(method, endpoint)][role]
        before = denials()
        ids = {**world, "case_id": world[CASE_OF.get(endpoint, "case_id")]}
        response = client.open(url_for_rule(rule, ids), method=method, data={})
        assert response.status_code < 500, f"{method} {rule}"
        got = outcome(response)
        if expected == DENIED:
            # The object exists, it is someone else's: 404 like a missing one, and audited.
            if got != "404" or denials() != before + 1:
                wrong.append(f"{method} {rule}: {got}, audit +{denials() - before}")
            continue
        if got != (ABSENT if expected == ABSENT else expected):
            wrong.append(f"{method} {rule}: expected {expected}, got {got}")
    assert not wrong, f"{role}:\n" + "\n".join(wrong)


def test_a_denied_object_is_audited_with_who_and_what(app, world):
    client = app.test_client()
    login(client, "other_buyer")
    assert client.get(f"/orders/{world['order_id']}").status_code == 404
    db.session.rollback()
    entry = db.session.execute(select(AuditRecord).where(
        AuditRecord.action == "access.denied")).scalar_one()
    assert (entry.actor, entry.target, entry.outcome) == (
        "other_buyer@test.example", f"order:{world['order_id']}", "failure")
    assert f"/orders/{world['order_id']}" in entry.details


def test_other_sellers_bank_details_never_show(app, world, people):
    add_bank_account(people["seller"])  # its IBAN ends in 3000
    owner = app.test_client()
    login(owner, "seller")
    assert "3000" in owner.get("/seller/bank-account").get_data(as_text=True)
    client = app.test_client()
    login(client, "other_seller")
    for path in ("/seller/bank-account", "/seller/payouts", "/seller"):
        assert "3000" not in client.get(path).get_data(as_text=True)
