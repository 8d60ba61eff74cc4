"""When a run may stop settling (sim/invariants.quiet): only once nothing is left for any owner,
including a webhook the PSP dropped (it believes it arrived) that our event catch-up has not
yet fetched; a run that stopped before would report a chargeback or a failed refund we never
heard of as a violation of the platform."""
from __future__ import annotations

from sqlalchemy import update

from app.extensions import db
from app.models.webhooks import InboxStatus, WebhookEvent
from sandbox_psp.models import Delivery, Event
from sandbox_psp.models import db as psp_db
from sim import invariants
from sim.run import run_seed
from sim.world import fast_hash


def test_a_run_is_not_quiet_while_a_dropped_webhook_is_not_in_our_inbox(world):
    run_seed(world, 1000, fast_hash(), keep=[])   # an empty run: people, cards, chains
    assert invariants.quiet(world)

    with world.psp.app_context():   # the PSP made an event, and its delivery was "dropped"
        psp_db.session.add(Event(id="evt_sim_dropped", type="dispute.created",
                                 created=int(world.clock()), data={"id": "dp_sim"}))
        psp_db.session.add(Delivery(event_id="evt_sim_dropped", url="http://holdfast.sim",
                                    status="succeeded", created=int(world.clock())))
        psp_db.session.commit()
    assert not invariants.quiet(world)

    db.session.add(WebhookEvent(provider="sandbox", event_id="evt_sim_dropped",
                                event_type="dispute.created", payload="{}"))
    db.session.commit()
    assert not invariants.quiet(world)   # caught up, but not yet applied

    db.session.execute(update(WebhookEvent).values(status=InboxStatus.PROCESSED.value))
    db.session.commit()
    assert invariants.quiet(world)
