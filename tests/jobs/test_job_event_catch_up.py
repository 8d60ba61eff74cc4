"""Lost webhooks: the PSP believes it delivered dispute.created, we never got it. Nothing else
would open the chargeback case (the simulation's seed 1009 found this); the catch-up job reads
the PSP's recent events back and processes the ones our inbox lacks, once."""
from __future__ import annotations

from sqlalchemy import func, select

from app.extensions import db
from app.jobs.webhooks import catch_up_events
from app.models import DisputeCase, WebhookEvent
from tests.flows import add, buyer_pays, latest_payment, login, order_and_start, run_jobs, settle
from tests.services.disputes.test_svc_chargebacks import DISPUTE_CARD


def deliver_due(psp) -> None:
    from sandbox_psp.webhooks import deliver_due as deliver

    deliver(psp)


def drop_deliveries(psp, event_type: str) -> int:
    """Mark the PSP's pending deliveries of event_type as delivered, unsent (a dropped webhook
    the PSP believes arrived); how many."""
    from sandbox_psp.models import Delivery, Event
    from sandbox_psp.models import db as psp_db

    with psp.app_context():
        dropped = psp_db.session.execute(select(Delivery).join(Event).where(
            Event.type == event_type, Delivery.status == "pending")).scalars().all()
        for delivery in dropped:
            delivery.status = "succeeded"
        psp_db.session.commit()
        return len(dropped)


def cases() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count(DisputeCase.id)))


def test_a_dispute_whose_webhook_was_lost_is_opened_by_the_catch_up(app, people, stack, psp):
    client = app.test_client()
    login(client, "buyer")
    add(client, people["mug"])
    order_id, payment = order_and_start(client, "EUR", "hosted")
    buyer_pays(stack["psp_url"], payment.psp_reference, DISPUTE_CARD)
    deliver_due(psp)  # payment_session.authorized only
    run_jobs()        # … which captures, and the capture opens the dispute at the PSP …
    assert drop_deliveries(psp, "dispute.created") == 1  # … whose webhook is lost
    settle(psp)
    assert latest_payment(order_id).status == "captured" and cases() == 0

    assert catch_up_events() >= 1
    run_jobs()

    assert cases() == 1
    case = db.session.execute(select(DisputeCase)).scalar_one()
    assert (case.kind, case.status, case.payment_id) == ("chargeback", "needs_response",
                                                         payment.id)
    # Run again: nothing new is stored, nothing is applied twice.
    stored = db.session.scalar(select(func.count(WebhookEvent.id)))
    assert catch_up_events() == 0
    run_jobs()
    assert db.session.scalar(select(func.count(WebhookEvent.id))) == stored and cases() == 1


def test_events_already_received_change_nothing(app, people, stack, psp):
    client = app.test_client()
    login(client, "buyer")
    add(client, people["mug"])
    order_id, payment = order_and_start(client, "EUR", "hosted")
    buyer_pays(stack["psp_url"], payment.psp_reference)
    settle(psp)
    run_jobs()
    ours = db.session.scalar(select(func.count(WebhookEvent.id)).where(
        WebhookEvent.object_id == payment.psp_reference))

    catch_up_events()  # (the suite's sandbox also holds other tests' events: they are stored
    run_jobs()         # and ignored, as events about objects that are not ours)

    assert db.session.scalar(select(func.count(WebhookEvent.id)).where(
        WebhookEvent.object_id == payment.psp_reference)) == ours
    changes = [c.to_status for c in latest_payment(order_id).changes]
    assert changes.count("authorized") == 1 and changes.count("captured") == 1
    assert catch_up_events() == 0
