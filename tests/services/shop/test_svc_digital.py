"""Digital goods: delivered in the capture's transaction with the seller paid at once (less
the fee), revoked by a refund or a lost chargeback, and a dry key pool stops sales but never a
paid order (which waits, flagged)."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.domain.ledger import AccountKind
from app.extensions import db
from app.models import EscrowHold, Item, LicenceKey, Notification, Order
from app.models.fulfilment import DigitalDelivery
from app.services.audit import Actor
from app.services.errors import NotFound, ServiceError
from app.services.money import ledger
from app.services.money.ledger_checks import check_all
from app.services.refunds import refunds
from app.services.shop import digital, downloads
from tests import flows
from tests.flows import latest_payment
from tests.services.shop.fulfil_steps import SELLER, digital_item

SUPPORT = Actor("support@test.example", "127.0.0.1")
K = AccountKind


def _delivery(order_id: int) -> DigitalDelivery:
    db.session.expire_all()
    return db.session.execute(select(DigitalDelivery).where(
        DigitalDelivery.order_id == order_id)).scalar_one()


def _hold(order_id: int) -> EscrowHold:
    return db.session.execute(select(EscrowHold).where(
        EscrowHold.order_id == order_id)).scalar_one()


def test_a_key_is_delivered_at_capture_and_the_seller_is_paid_at_once(client, people, stack,
                                                                      psp):
    digital_item(people, "licence_key", keys=3)
    order_id = flows.paid_order(client, people, stack, psp, {"Gem pack": 2})
    delivery = _delivery(order_id)
    assert delivery.status == "delivered"
    assert digital.reveal_keys(delivery) == ["KEY-0000", "KEY-0001"]
    # No escrow: the hold is released in the capture's own transaction, less the 10 % fee.
    hold = _hold(order_id)
    assert (hold.status, hold.released_by) == ("released", "digital")
    seller = str(people["other_seller"])
    assert ledger.balance(K.ESCROW, seller, "EUR") == 0
    assert ledger.balance(K.SELLER_AVAILABLE, seller, "EUR") == 1998 - 200
    assert ledger.balance(K.PLATFORM_FEES, "", "EUR") == 200
    assert db.session.get(Order, order_id).status == "delivered"
    receipt = db.session.execute(select(Notification).where(
        Notification.kind == "digital_delivered")).scalar_one()
    assert "KEY-0000" in receipt.body and "KEY-0001" in receipt.body
    assert db.session.get(Item, people["Gem pack"]).stock == 1
    # Keys are sealed at rest (the receipt, a notification, carries them to the buyer).
    for key in db.session.execute(select(LicenceKey)).scalars():
        assert b"KEY-" not in key.ciphertext and "KEY-" not in key.fingerprint
    assert check_all() == []


def test_a_refund_revokes_the_key_and_claws_back_the_sellers_share(client, people, stack, psp):
    digital_item(people, "licence_key", keys=2)
    order_id = flows.paid_order(client, people, stack, psp, {"Gem pack": 1})
    payment = latest_payment(order_id)
    refund = refunds.request_refund(payment.id, reason="did not work", actor=SUPPORT,
                                    by="support")
    assert refund.status == "succeeded"
    delivery = _delivery(order_id)
    assert (delivery.status, delivery.revoke_reason) == ("revoked", "refunded")
    assert [k.status for k in delivery.keys] == ["revoked"]
    told = db.session.execute(select(Notification).where(
        Notification.kind == "digital_revoked")).scalar_one()
    assert told.user_id == people["buyer"] and "no longer works" in told.body
    seller = str(people["other_seller"])
    assert ledger.balance(K.SELLER_AVAILABLE, seller, "EUR") == 0
    assert ledger.balance(K.PLATFORM_FEES, "", "EUR") == 0
    assert check_all() == []


def test_a_partial_refund_keeps_the_goods(client, people, stack, psp):
    digital_item(people, "licence_key", keys=2)
    order_id = flows.paid_order(client, people, stack, psp, {"Gem pack": 1})
    refunds.request_refund(latest_payment(order_id).id, amount=200, reason="goodwill",
                           actor=SUPPORT, by="support")
    assert _delivery(order_id).status == "delivered"


def test_an_empty_pool_stops_sales_not_a_paid_order(client, people, stack, psp):
    item_id = digital_item(people, "licence_key", keys=1)
    flows.login(client, "buyer")
    flows.add(client, item_id, 1)
    refused = client.post("/cart/add", data={"item_id": item_id, "quantity": 1},
                          follow_redirects=True)
    assert "left in stock" in refused.get_data(as_text=True)  # 2 wanted, 1 key in the pool

    # The seller lowers the pool after the order was placed: the paid order waits, flagged.
    order_id, payment = flows.order_and_start(client)
    assert db.session.get(Item, item_id).stock == 0  # reserved: nobody else can buy it
    db.session.execute(select(LicenceKey)).scalar_one().status = "revoked"
    db.session.commit()
    flows.buyer_pays(stack["psp_url"], payment.psp_reference)
    flows.settle(psp)
    payment = latest_payment(order_id)
    assert payment.status == "captured"
    delivery = _delivery(order_id)
    assert delivery.status == "waiting"
    assert payment.needs_review and "waits for a licence key" in payment.review_reason
    assert db.session.execute(select(Notification).where(
        Notification.kind == "digital_waiting")).scalar_one().user_id == people["other_seller"]
    hold = _hold(order_id)
    assert hold.status == "held"  # not delivered: the seller is not paid yet
    assert digital.waiting_for_seller(people["other_seller"])[0].id == delivery.id

    digital.add_keys(people["other_seller"], item_id, "NEW-1\nNEW-2", SELLER)
    delivery = _delivery(order_id)
    assert delivery.status == "delivered" and digital.reveal_keys(delivery) == ["NEW-1"]
    assert not latest_payment(order_id).needs_review
    assert db.session.get(Item, item_id).stock == 1  # one key went to the waiting order
    assert db.session.get(EscrowHold, hold.id).status == "released"
    assert check_all() == []


def test_download_links_are_signed_expire_and_die_with_a_refund(client, people, stack, psp,
                                                                  app):
    digital_item(people, "download")
    order_id = flows.paid_order(client, people, stack, psp, {"Gem pack": 1})
    delivery = _delivery(order_id)
    token = downloads.download_token(delivery)
    assert downloads.open_download(token, people["buyer"]).data == b"the whole book"
    with pytest.raises(NotFound):
        downloads.open_download(token, people["other_buyer"])
    with pytest.raises(NotFound):
        downloads.open_download(token[:-2] + "xx", people["buyer"])
    app.config["DOWNLOAD_LINK_TTL_SECONDS"] = -1  # every link is already too old
    with pytest.raises(NotFound, match="expired"):
        downloads.open_download(token, people["buyer"])
    app.config["DOWNLOAD_LINK_TTL_SECONDS"] = 900
    refunds.request_refund(latest_payment(order_id).id, reason="x", actor=SUPPORT,
                           by="support")
    with pytest.raises(NotFound, match="no longer available"):
        downloads.open_download(token, people["buyer"])


def test_store_credit_is_granted_and_taken_back(client, people, stack, psp):
    digital_item(people, "store_credit", credit=500)
    order_id = flows.paid_order(client, people, stack, psp, {"Gem pack": 2})
    assert digital.credit_balance(people["buyer"]) == 1000
    refunds.request_refund(latest_payment(order_id).id, reason="x", actor=SUPPORT,
                           by="support")
    assert digital.credit_balance(people["buyer"]) == 0
    assert "1000 credits were taken back" in db.session.execute(select(Notification).where(
        Notification.kind == "digital_revoked")).scalar_one().body


def test_seller_input_is_checked(people):
    seller = people["seller"]
    with pytest.raises(NotFound):
        digital.set_kind(seller, people["candle"], "licence_key", 0, SELLER)
    with pytest.raises(ServiceError, match="Store credit"):
        digital.set_kind(seller, people["mug"], "store_credit", 0, SELLER)
    with pytest.raises(ServiceError, match="not sold as a licence key"):
        digital.add_keys(seller, people["mug"], "K-1", SELLER)
    digital.set_kind(seller, people["mug"], "licence_key", 0, SELLER)
    assert db.session.get(Item, people["mug"]).stock == 0  # no keys, nothing to sell
    assert digital.add_keys(seller, people["mug"], "K-1\nK-1\n\nK-2", SELLER) == 2
    assert digital.add_keys(seller, people["mug"], "K-2\nK-3", SELLER) == 1  # K-2 known
    assert digital.key_counts(people["mug"])["available"] == 3
    assert db.session.get(Item, people["mug"]).stock == 3
