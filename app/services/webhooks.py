"""Webhooks: verify → store once → commit → hand off to the queue; then one dispatch table by event kind.

The provider reads its own payloads: parse_webhook and stored_event give the common event
(its kind, the PSP's object id, our own reference when the PSP carries one), so nothing here
knows any PSP's shape. Each handler re-fetches its object from the PSP, moves it forward and
marks the inbox row in the same transaction; an error leaves the row for RQ's retry.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app
from redis.exceptions import RedisError

from app.providers.base import EventKind, InvalidSignature, ProviderEvent
from app.providers.registry import get_provider
from app.services import inbox
from app.services.audit import Actor
from app.services.disputes.chargebacks import apply_dispute_event
from app.services.money.payout_events import apply_payout_event
from app.services.payments.payments import Outcome, apply_payment_event
from app.services.refunds.refunds import apply_refund_event


@dataclass(frozen=True)
class Receipt:
    """The answer for the PSP: HTTP status and a short JSON body."""

    status: int
    body: dict


def receive(provider_name: str, raw_body: bytes, headers) -> Receipt:
    """Verify and store one webhook; duplicates answer 2xx and change nothing."""
    provider = get_provider(provider_name)
    try:
        event = provider.parse_webhook(raw_body, headers)
    except InvalidSignature as exc:
        current_app.logger.warning("rejected %s webhook: %s", provider_name, exc)
        return Receipt(400, {"error": {"code": "invalid_signature",
                                       "message": "signature verification failed"}})
    inbox_id = inbox.store(provider_name, event, raw_body)
    if inbox_id is None:
        return Receipt(200, {"received": True, "duplicate": True})
    try:
        inbox.hand_off(inbox_id)  # the PSP's answer need not wait for Redis: app/handoff.py
    except RedisError:
        # The row is committed: the sweeper will enqueue it when Redis is back.
        current_app.logger.warning("queue unavailable; inbox event %s waits for the sweeper",
                                   inbox_id)
    return Receipt(200, {"received": True})


def catch_up(provider_name: str, limit: int) -> int:
    """Store the PSP's recent events our inbox lacks (webhooks it believes it delivered, but
    that never reached us: a dropped dispute.created leaves no one else to open the case) and
    queue them like received ones; how many were new. A PSP with no event list: 0."""
    recent = get_provider(provider_name).recent_events(limit)
    if not recent:
        return 0
    known = inbox.known_event_ids(provider_name, [event.event_id for event, _ in recent])
    stored = 0
    for event, raw in reversed(recent):  # oldest first, as they happened
        if event.event_id in known:
            continue
        inbox_id = inbox.store(provider_name, event, raw)
        if inbox_id is None:
            continue  # its webhook arrived meanwhile
        stored += 1
        try:
            inbox.enqueue(inbox_id)
        except RedisError:  # committed: the sweeper enqueues it when Redis is back
            current_app.logger.warning("queue unavailable; caught-up event %s waits", inbox_id)
    if stored:
        current_app.logger.warning("caught up %d %s events whose webhooks never arrived",
                                   stored, provider_name)
    return stored


def ignore_other(inbox_id: int, provider_name: str, event: ProviderEvent,
                 actor: Actor) -> None:
    """An event about nothing the platform settles: recorded as ignored, answered 2xx."""
    inbox.ignore(inbox_id, f"no payment for {event.type} {event.object_id}")


Handler = Callable[[int, str, ProviderEvent, Actor], Outcome | None]

# Who processes each kind of event. Each takes (inbox id, provider name, the common event,
# actor), settles its object from the PSP's current state and marks the inbox row.
HANDLERS: dict[EventKind, Handler] = {
    EventKind.PAYMENT: apply_payment_event,
    EventKind.REFUND: apply_refund_event,
    EventKind.DISPUTE: apply_dispute_event,
    EventKind.PAYOUT: apply_payout_event,
    EventKind.OTHER: ignore_other,
}


def process(inbox_id: int) -> Outcome | None:
    """Apply one stored event once: its kind's handler, or nothing for a settled row.

    No transaction of its own: the handler marks the row in the transaction that applies the
    event (one commit per event), and `inbox.mark` refuses a row another run settled meanwhile,
    rolling that transaction back. The PSP re-fetch happens before it, holding no lock.
    """
    stored = inbox.pending(inbox_id)
    if stored is None:
        return None
    event = get_provider(stored.provider).stored_event(
        stored.event_id, stored.event_type, stored.object_id, _decoded(stored.payload))
    actor = Actor(f"psp:{stored.provider}", "worker")
    try:
        return HANDLERS[event.kind](inbox_id, stored.provider, event, actor)
    except inbox.AlreadySettled:
        return None  # a concurrent run of the same event committed first: ours rolled back


def _decoded(stored: str) -> dict:
    """A stored body as JSON when it is JSON (Braintree posts a form: nothing to read here)."""
    try:
        payload = json.loads(stored)
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}
