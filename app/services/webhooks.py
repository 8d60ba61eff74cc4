"""Webhook inbox: verify → store once → commit → enqueue; and the processing of stored events."""
from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.clock import now
from app.database import locked, unit_of_work
from app.extensions import db, queues
from app.models import Payment, WebhookEvent
from app.models.webhooks import InboxStatus
from app.providers.base import EventKind, InvalidSignature, ProviderError
from app.providers.registry import get_provider
from app.services.audit import Actor
from app.services.payments import payments
from app.services.payments.payments import Outcome


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
    try:
        with unit_of_work():
            row = WebhookEvent(provider=provider_name, event_id=event.event_id,
                               event_type=event.type, object_id=event.object_id,
                               payload=event.inbox_body or raw_body.decode("utf-8"))
            db.session.add(row)
            db.session.flush()
            inbox_id = row.id
    except IntegrityError:
        return Receipt(200, {"received": True, "duplicate": True})
    try:
        enqueue_processing(inbox_id)
    except RedisError:
        # The row is committed: the sweeper will enqueue it when Redis is back.
        current_app.logger.warning("queue unavailable; inbox event %s waits for the sweeper",
                                   inbox_id)
    return Receipt(200, {"received": True})


def enqueue_processing(inbox_id: int) -> None:
    """Queue the job that processes one stored event."""
    queues.enqueue("app.jobs.webhooks.process_event", inbox_id, job_id=f"inbox-{inbox_id}")


# Who processes each kind of event: "module:function", imported when first needed so that
# this module does not depend on every feature. Each takes (inbox_id, provider_name,
# event_type, object_id, actor), settles its object and marks the inbox row.
HANDLERS = {
    EventKind.REFUND: "app.services.refunds.refunds:apply_refund_event",
    EventKind.DISPUTE: "app.services.disputes.chargebacks:apply_dispute_event",
}


def process(inbox_id: int) -> Outcome | None:
    """Apply one stored event: find its object, re-fetch it from the PSP, move forward."""
    with unit_of_work():
        event = locked(WebhookEvent, inbox_id)
        if event is None or event.status in (InboxStatus.PROCESSED.value,
                                             InboxStatus.IGNORED.value):
            return None
        event.attempts += 1
        provider_name, event_type, object_id = event.provider, event.event_type, event.object_id
        payload = _decoded(event.payload)
    actor = Actor(f"psp:{provider_name}", "worker")
    provider = get_provider(provider_name)
    kind = provider.event_kind(event_type)
    if kind == EventKind.PAYOUT:
        return _process_payout(inbox_id, provider_name, event_type, object_id, actor)
    if kind in HANDLERS:
        module, _, function = HANDLERS[kind].partition(":")
        handler = getattr(importlib.import_module(module), function)
        return handler(inbox_id, provider_name, event_type, object_id, actor)
    payment = None
    if kind == EventKind.PAYMENT and object_id:
        payment = db.session.execute(select(Payment).where(
            Payment.provider == provider_name, Payment.psp_reference == object_id)
        ).scalar_one_or_none()
        ours = provider.our_reference_in(payload) if payment is None else None
        if ours:
            # e.g. a Stripe PaymentIntent event: its id is not the session id we stored.
            payment = db.session.execute(select(Payment).where(
                Payment.provider == provider_name, Payment.idempotency_key == ours)
            ).scalar_one_or_none()
    if payment is None or (payment.psp_reference is None and kind == EventKind.PAYMENT):
        with unit_of_work():
            payments.mark_inbox(inbox_id, InboxStatus.IGNORED,
                                f"no payment for {event_type} {object_id}")
        return None
    try:
        # Events arrive out of order: the PSP's current object is the truth, not the snapshot.
        report = provider.retrieve(payment.psp_reference)
    except ProviderError:
        report = provider.payment_in_event(payload)
        if report is None:
            raise
    return payments.apply_report(payment.id, report, f"webhook {event_type} {event_id_of(payload)}",
                                 actor, inbox_id=inbox_id)


def _decoded(stored: str) -> dict:
    """A stored body as JSON when it is JSON (Braintree posts a form: nothing to read here)."""
    try:
        payload = json.loads(stored)
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def event_id_of(payload: dict) -> str:
    """The PSP's event id inside a stored payload, for the cause of a status change."""
    return str(payload.get("id", "")) if isinstance(payload, dict) else ""


def _process_payout(inbox_id: int, provider_name: str, event_type: str, object_id: str | None,
                    actor: Actor) -> None:
    """payout.paid / payout.failed: re-fetch the payout and settle it with its posting."""
    from app.models.payouts import Payout
    from app.services.money import payouts

    payout = db.session.execute(select(Payout).where(
        Payout.provider == provider_name, Payout.psp_reference == object_id)
    ).scalar_one_or_none() if object_id else None
    if payout is None:
        # The webhook can beat the submit job to storing the PSP's id: match on our own key.
        from app.providers.sandbox.client import PAYOUT_REFERENCE

        event = json.loads(db.session.get(WebhookEvent, inbox_id).payload)
        ours = ((event["data"]["object"].get("metadata") or {}).get(PAYOUT_REFERENCE))
        payout = db.session.execute(select(Payout).where(
            Payout.provider == provider_name, Payout.idempotency_key == ours)
        ).scalar_one_or_none() if ours else None
    if payout is None:
        with unit_of_work():
            payments.mark_inbox(inbox_id, InboxStatus.IGNORED,
                                f"no payout for {event_type} {object_id}")
        return None
    result = get_provider(provider_name).retrieve_payout(object_id)
    settled = payouts.apply_result(payout.id, result, actor)
    with unit_of_work():
        payments.mark_inbox(inbox_id, InboxStatus.PROCESSED, f"payout {settled.status}")
    return None


def record_failure(inbox_id: int, error: str) -> None:
    """Note a failed processing attempt on the inbox row (the job re-raises for RQ's retry)."""
    with unit_of_work():
        event = locked(WebhookEvent, inbox_id)
        if event is not None and event.status != InboxStatus.PROCESSED.value:
            event.status, event.last_error = InboxStatus.FAILED.value, error[:2000]


def stranded(older_than_seconds: int) -> list[int]:
    """Inbox rows stored but never processed (Redis was down, a worker died)."""
    cutoff = now() - timedelta(seconds=older_than_seconds)
    return list(db.session.execute(select(WebhookEvent.id).where(
        WebhookEvent.status == InboxStatus.RECEIVED.value, WebhookEvent.received_at < cutoff)
    ).scalars())
