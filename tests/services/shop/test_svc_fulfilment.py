"""Shipping: saved addresses checked per country and copied onto the order, sellers mark lines
shipped (carrier, tracking) and delivered, the order follows; and a lost chargeback revokes a
digital line."""
from __future__ import annotations

import pytest
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select

from app.extensions import db, queues
from app.models import EscrowHold, Notification, Order
from app.models.fulfilment import Address, OrderAddress, Shipment
from app.services.audit import Actor
from app.services.errors import Conflict, NotFound, ServiceError
from app.services.shop import addresses, fulfilment
from app.services.shop.addresses import AddressInvalid
from tests import flows
from tests.services.disputes.test_svc_chargebacks import case_of, close_at_psp, disputed_order
from tests.services.shop.fulfil_steps import digital_item

BUYER = Actor("buyer@test.example", "127.0.0.1")
SELLER = Actor("seller@test.example", "127.0.0.1")
PARIS = {"name": "Zoé", "street_address": "5 rue de Rivoli", "postal_code": "75001",
         "city": "Paris", "country_code": "FR"}


def _holds(order_id: int) -> dict[int, EscrowHold]:
    db.session.expire_all()
    return {h.seller_id: h for h in db.session.execute(
        select(EscrowHold).where(EscrowHold.order_id == order_id)).scalars()}


def test_addresses_are_checked_saved_and_removed(people):
    buyer = people["buyer"]
    with pytest.raises(AddressInvalid) as refused:
        addresses.add(buyer, {**PARIS, "postal_code": "7500"}, BUYER)
    assert set(refused.value.errors) == {"postal_code"}
    new_id = addresses.add(buyer, PARIS, BUYER)
    assert addresses.saved(buyer)[0].id == new_id
    assert addresses.saved(buyer)[0].city == "PARIS"
    with pytest.raises(NotFound):
        addresses.remove(people["other_buyer"], new_id, BUYER)
    addresses.remove(buyer, new_id, BUYER)
    assert new_id not in [a.id for a in addresses.saved(buyer)]
    assert db.session.get(Address, new_id).removed_at is not None  # kept for orders


def test_a_physical_order_ships_to_the_chosen_address_and_keeps_its_copy(client, people):
    flows.login(client, "buyer")
    paris = addresses.add(people["buyer"], PARIS, BUYER)
    flows.add(client, people["mug"])
    response = client.post("/checkout", data={"currency": "EUR"})
    order_id = int(response.headers["Location"].rsplit("/", 1)[1])
    page = client.get(f"/checkout/{order_id}").get_data(as_text=True)
    assert 'name="address_id"' in page and "5 rue de Rivoli" in page
    other = db.session.execute(select(Address).where(
        Address.user_id == people["other_buyer"])).scalar_one()
    assert client.post(f"/checkout/{order_id}/pay",
                       data={"mode": "hosted", "address_id": other.id}).status_code == 404
    response = client.post(f"/checkout/{order_id}/pay", data={"mode": "hosted",
                                                              "address_id": paris})
    assert response.status_code == 303
    addresses.remove(people["buyer"], paris, BUYER)
    copy = db.session.execute(select(OrderAddress).where(
        OrderAddress.order_id == order_id)).scalar_one()
    assert (copy.street_address, copy.postal_code, copy.address_id) == (
        "5 rue de Rivoli", "75001", paris)


def test_no_address_no_payment_for_a_physical_order(client, people):
    for address in addresses.saved(people["buyer"]):
        addresses.remove(people["buyer"], address.id, BUYER)
    flows.login(client, "buyer")
    flows.add(client, people["mug"])
    order_id = int(client.post("/checkout", data={"currency": "EUR"})
                   .headers["Location"].rsplit("/", 1)[1])
    response = client.post(f"/checkout/{order_id}/pay", data={"mode": "hosted"})
    assert response.status_code == 400
    assert "Add a shipping address" in response.get_data(as_text=True)
    assert flows.latest_payment(order_id) is None  # nothing went to the PSP


def test_a_digital_order_needs_no_address(client, people):
    for address in addresses.saved(people["buyer"]):
        addresses.remove(people["buyer"], address.id, BUYER)
    digital_item(people, "licence_key", keys=1)
    flows.login(client, "buyer")
    flows.add(client, people["Gem pack"])
    order_id, payment = flows.order_and_start(client)
    assert payment is not None and addresses.for_order(order_id) is None


def test_shipping_every_line_then_delivering_moves_the_order(client, people, stack, psp):
    order_id = flows.paid_order(client, people, stack, psp, {"mug": 1, "candle": 1})
    holds = _holds(order_id)
    mug, candle = holds[people["seller"]], holds[people["other_seller"]]
    with pytest.raises(ServiceError, match="carrier"):
        fulfilment.mark_shipped(people["seller"], mug.id, "Pigeon", "", SELLER)
    with pytest.raises(NotFound):
        fulfilment.mark_shipped(people["seller"], candle.id, "DHL", "X", SELLER)
    with pytest.raises(Conflict, match="Mark the line shipped first"):
        fulfilment.mark_delivered(people["seller"], mug.id, SELLER)
    shipped = fulfilment.mark_shipped(people["seller"], mug.id, "DHL", " JD0146 ", SELLER)
    # The auto-release timer starts.
    assert f"escrow-release-{mug.id}" in ScheduledJobRegistry(queue=queues.queue).get_job_ids()
    shipment = db.session.get(Shipment, shipped.shipment_id)
    assert (shipment.carrier, shipment.tracking_ref, shipment.status) == (
        "DHL", "JD0146", "shipped")
    assert _holds(order_id)[people["seller"]].tracking_ref == "JD0146"
    told = db.session.execute(select(Notification).where(
        Notification.kind == "line_shipped")).scalar_one()
    assert told.user_id == people["buyer"] and "DHL, tracking JD0146" in told.body
    assert db.session.get(Order, order_id).status == "paid"  # the candle is not on its way
    with pytest.raises(Conflict, match="already"):
        fulfilment.mark_shipped(people["seller"], mug.id, "DHL", "again", SELLER)

    fulfilment.mark_shipped(people["other_seller"], candle.id, "UPS", "1Z", SELLER)
    db.session.expire_all()
    assert db.session.get(Order, order_id).status == "shipped"
    fulfilment.mark_delivered(people["seller"], mug.id, SELLER)
    fulfilment.mark_delivered(people["other_seller"], candle.id, SELLER)
    fulfilment.mark_delivered(people["other_seller"], candle.id, SELLER)  # twice: no change
    db.session.expire_all()
    assert db.session.get(Order, order_id).status == "delivered"
    assert _holds(order_id)[people["seller"]].status == "held"  # only the buyer releases


def test_a_digital_line_is_never_shipped(client, people, stack, psp):
    digital_item(people, "licence_key", keys=1)
    order_id = flows.paid_order(client, people, stack, psp, {"Gem pack": 1})
    hold = _holds(order_id)[people["other_seller"]]
    with pytest.raises(Conflict, match="Digital"):
        fulfilment.mark_shipped(people["other_seller"], hold.id, "DHL", "", SELLER)


def test_a_lost_chargeback_revokes_the_key(app, people, stack, psp):
    digital_item(people, "licence_key", keys=1)
    order_id = disputed_order(app, people, stack, psp, {"Gem pack": 1})
    close_at_psp(stack, psp, case_of(order_id), "lost")
    db.session.expire_all()
    from app.models.fulfilment import DigitalDelivery
    delivery = db.session.execute(select(DigitalDelivery)).scalar_one()
    assert delivery.status == "revoked" and "charged back" in delivery.revoke_reason
    assert [k.status for k in delivery.keys] == ["revoked"]
    assert db.session.execute(select(Notification).where(
        Notification.kind == "digital_revoked")).scalar_one().user_id == people["buyer"]
