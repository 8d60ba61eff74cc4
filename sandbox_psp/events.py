"""Events: one per state change, recorded in the same transaction as the change (an outbox)."""
import time

from flask import current_app

from .errors import missing
from .models import Delivery, Event, db, new_id, now
from .paging import page

TYPES = (
    "payment_session.requires_action", "payment_session.payment_failed",
    "payment_session.authorized", "payment_session.partially_captured",
    "payment_session.captured", "payment_session.canceled",
    "payment_session.expired", "refund.succeeded", "refund.failed",
    "payout.paid", "payout.failed", "dispute.created", "dispute.updated", "dispute.closed",
)


def emit(event_type: str, snapshot: dict) -> Event:
    """Record an event and, if a webhook URL is configured, queue its delivery."""
    assert event_type in TYPES, event_type
    event = Event(id=new_id("evt"), type=event_type, created=now(), data=snapshot)
    db.session.add(event)
    url = current_app.config["SANDBOX_WEBHOOK_URL"]
    if url:
        db.session.add(Delivery(event_id=event.id, url=url, created=event.created,
                                next_attempt_at=time.time()))
    return event


def get_event(event_id: str) -> Event:
    """One event by id, or a 404 ApiError."""
    event = db.session.scalar(db.select(Event).filter_by(id=event_id))
    if event is None:
        raise missing("event", event_id)
    return event


def list_events(limit: int, starting_after: str | None, event_type: str | None) -> tuple[list, bool]:
    """Newest first, Stripe-style cursor: (events, has_more)."""
    query = db.select(Event).order_by(Event.seq.desc())
    if event_type:
        if event_type.endswith(".*"):
            query = query.where(Event.type.startswith(event_type[:-1]))
        else:
            query = query.filter_by(type=event_type)
    return page(query, limit, Event, starting_after, "event")
