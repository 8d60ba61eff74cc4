"""Screening through the live sandbox: before the PSP call and on its verdict, the PSP-verdict
test cards, lists, countries and the decision stored on the payment and in the audit log."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditRecord, Item, Notification, Order, Payment
from app.services.audit import Actor
from app.services.checkout import checkout, orders
from app.services.fraud import lists, signals
from app.services.fraud.rules_file import current
from app.services.fraud.screening import BLOCKED_MESSAGE, BuyerOrigin, FraudBlocked
from tests.flows import add, buyer_pays, latest_payment, login, order_and_start, psp_call, settle

SUPPORT = Actor("support@test.example", "127.0.0.1")


def buy(shop, people, token: str, item: str = "mug") -> int:
    """The buyer orders one item, pays hosted at the sandbox with `token`, webhooks settle."""
    client, stack, psp = shop
    login(client, "buyer")
    add(client, people[item])
    order_id, payment = order_and_start(client, "EUR", "hosted")
    buyer_pays(stack["psp_url"], payment.psp_reference, token)
    settle(psp)
    return order_id


@pytest.fixture
def shop(app, people, psp, stack):
    return app.test_client(), stack, psp


def psp_session(stack, payment: Payment) -> dict:
    return psp_call(stack["psp_url"], "GET", f"/v1/payment_sessions/{payment.psp_reference}").json()


def screened(payment_id: int) -> list[dict]:
    rows = db.session.execute(select(AuditRecord).where(
        AuditRecord.action == "fraud.screened",
        AuditRecord.target == f"payment:{payment_id}").order_by(AuditRecord.id)).scalars()
    return [json.loads(r.details) if isinstance(r.details, str) else r.details for r in rows]


def test_an_ordinary_payment_is_allowed_and_its_decision_recorded_twice(shop, people, stack):
    order_id = buy(shop, people, "pm_card_visa")
    payment = latest_payment(order_id)
    assert payment.status == "captured"
    assert (payment.fraud_decision, payment.review_status) == ("allow", None)
    assert payment.card_fingerprint and payment.card_country == "US"
    assert payment.psp_risk_level == "normal"
    stages = [d["stage"] for d in screened(payment.id)]
    assert stages == ["before_psp", "psp_verdict"]
    assert "The buyer's first purchase" in json.loads(payment.fraud_reasons)


def test_elevated_risk_is_held_for_review_authorized_but_not_captured(shop, people, stack):
    order_id = buy(shop, people, "pm_card_riskLevelElevated")
    payment = latest_payment(order_id)
    assert (payment.status, payment.fraud_decision, payment.review_status) == (
        "authorized", "review", "pending")
    assert payment.psp_risk_level == "elevated"
    assert "The PSP rates the payment's risk elevated" in json.loads(payment.fraud_reasons)
    assert psp_session(stack, payment)["status"] == "authorized"  # never captured
    assert db.session.get(Order, order_id).status == "awaiting_payment"  # not paid yet


def test_highest_risk_is_blocked_and_the_authorization_voided(shop, people, stack):
    order_id = buy(shop, people, "pm_card_riskLevelHighest")
    payment = latest_payment(order_id)
    assert (payment.status, payment.fraud_decision, payment.review_status) == (
        "cancelled", "block", "blocked")
    assert psp_session(stack, payment)["status"] == "canceled"  # the sandbox's own record
    order = db.session.get(Order, order_id)
    assert order.status == "cancelled" and order.stock_released
    assert db.session.get(Item, people["mug"]).stock == 10
    assert payment.failure_message == BLOCKED_MESSAGE
    told = db.session.execute(select(Notification).where(
        Notification.kind == "payment_not_accepted")).scalar_one()
    assert "rule" not in told.body and "risk" not in told.body  # calm and generic


def test_the_always_blocked_card_is_declined_by_the_psp_and_counted(shop, people, stack):
    order_id = buy(shop, people, "pm_card_radarBlock")
    payment = latest_payment(order_id)
    assert payment.status == "declined" and payment.decline_code == "fraudulent"
    assert payment.psp_risk_level == "highest" and payment.card_fingerprint
    ids = signals.velocity_identities(payment, db.session.get(Order, order_id).buyer)
    from app.services.fraud import velocity

    counted = velocity.counts(current().windows(), ids)
    assert counted["declines_per_buyer_10m"] == 1 and counted["cards_per_buyer_1h"] == 1


def test_a_blocklisted_email_never_reaches_the_psp(shop, people, stack):
    lists.add("block", "email", "BUYER@test.example", "stolen cards", SUPPORT)
    shop = shop[0]
    login(shop, "buyer")
    add(shop, people["mug"])
    order_id = int(shop.post("/checkout", data={"currency": "EUR"}).headers["Location"]
                   .rsplit("/", 1)[1])
    response = shop.post(f"/checkout/{order_id}/pay", data={"mode": "hosted"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/checkout/{order_id}/return")
    payment = latest_payment(order_id)
    assert payment.psp_reference is None and payment.status == "failed"
    assert payment.fraud_decision == "block" and "On a blocklist" in payment.fraud_reasons
    page = shop.get(f"/checkout/{order_id}/return").get_data(as_text=True)
    assert "We could not accept this payment. Nothing has been charged." in page
    assert "blocklist" not in page.lower() and "rule" not in page.lower()
    assert db.session.get(Item, people["mug"]).stock == 10


def test_the_allowlist_overrides_every_other_rule(shop, people, stack):
    lists.add("allow", "email", "buyer@test.example", "known customer", SUPPORT)
    order_id = buy(shop, people, "pm_card_riskLevelHighest")
    payment = latest_payment(order_id)
    assert (payment.status, payment.fraud_decision) == ("captured", "allow")


@pytest.mark.parametrize("kind, value", [("ip_range", "8.8.8.0/24"), ("country", "US"),
                                          ("device", "device-of-a-fraudster-000000000000")])
def test_blocklists_match_ranges_countries_and_devices(app, people, kind, value):
    lists.add("block", kind, value, "test", SUPPORT)
    client = app.test_client()
    login(client, "buyer")
    add(client, people["mug"])
    order_id = orders.place_order(people["buyer"], "EUR", SUPPORT)
    with pytest.raises(FraudBlocked), app.test_request_context():
        checkout.start_payment(order_id, people["buyer"], "hosted", SUPPORT, country="FR",
                               origin=BuyerOrigin("8.8.8.8", "device-of-a-fraudster-000000000000"))


def test_ip_country_is_compared_with_billing_and_card_countries(app, people, psp, stack):
    client = app.test_client()
    login(client, "buyer")
    add(client, people["mug"])
    order_id = orders.place_order(people["buyer"], "EUR", SUPPORT)
    with app.test_request_context():  # the return URL is built with url_for
        start = checkout.start_payment(order_id, people["buyer"], "hosted", SUPPORT,
                                       country="FR", origin=BuyerOrigin("8.8.8.8", None))
    payment = db.session.get(Payment, start.payment_id)
    assert "The address's country differs from the billing country" in payment.fraud_reasons
    buyer_pays(stack["psp_url"], payment.psp_reference, "pm_card_de")
    settle(psp)
    payment = latest_payment(order_id)
    reasons = json.loads(payment.fraud_reasons)
    assert payment.card_country == "DE"
    assert "The address's country differs from the card's issuing country" in reasons
    assert "The card's issuing country differs from the billing country" in reasons


def test_signals_amount_history_first_purchase_account_and_seller(shop, people, stack):
    first = latest_payment(buy(shop, people, "pm_card_visa"))
    rules = current()
    before = signals.gather(first, rules, signals.Stage.BEFORE_PSP)
    assert before["psp_risk"] is None  # the PSP's verdict is not known before it
    add(shop[0], people["mug"], 5)
    order_id, second = order_and_start(shop[0], "EUR", "hosted")
    got = signals.gather(second, rules, signals.Stage.BEFORE_PSP)
    assert got["first_purchase"] is False
    assert got["amount_vs_history"] == pytest.approx(5.0)  # 5 mugs against 1 before
    assert 0 <= got["account_age_days"] < 0.1
    assert got["seller_paid_sales"] == 1 and got["seller_age_days"] < 0.1
    assert "attempts_per_card_1h" not in got  # no card yet: that window is not counted
    assert got["email_domain"] == "test.example"
