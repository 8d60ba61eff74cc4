"""A PSP's payout events (sent, paid, failed, returned; a Connect account's payout; a Braintree
disbursement or its exception): each payout of ours the event names is re-fetched from the PSP and
settled from what the PSP says now, never from the event's own body (it may be stale or forged).
"""
from __future__ import annotations

from sqlalchemy import or_, select

from app.database import unit_of_work
from app.extensions import db
from app.models.payouts import Payout
from app.models.webhooks import InboxStatus
from app.providers.base import ProviderEvent
from app.providers.registry import get_provider
from app.services import inbox
from app.services.audit import Actor
from app.services.money.payouts import apply_result, take_back


def _payouts_of(provider_name: str, event: ProviderEvent) -> list[Payout]:
    refs = [ref for ref in (event.object_id, *event.related) if ref]
    found = list(db.session.execute(select(Payout).where(
        Payout.provider == provider_name, or_(Payout.psp_reference.in_(refs),
                                              Payout.rail_reference.in_(refs)))
        .order_by(Payout.id)).scalars()) if refs else []
    if not found and event.our_reference:
        # The webhook can beat the submit job to storing the PSP's id: match on our own key.
        found = list(db.session.execute(select(Payout).where(
            Payout.provider == provider_name, Payout.idempotency_key == event.our_reference))
            .scalars())
    return found


def apply_payout_event(inbox_id: int, provider_name: str, event: ProviderEvent,
                       actor: Actor) -> None:
    """A payout event (sent, paid, failed, a Connect account's payout, a Braintree
    disbursement or its exception): re-fetch each payout of ours it names from the PSP and
    settle it with its posting."""
    found = _payouts_of(provider_name, event)
    if not found:
        inbox.ignore(inbox_id, f"no payout for {event.type} {event.object_id}")
        return
    statuses = []
    for payout in found:
        result = get_provider(provider_name).retrieve_payout(
            payout.psp_reference or event.object_id)
        statuses.append(take_back(apply_result(payout.id, result, actor), actor).status)
    with unit_of_work():
        inbox.mark(inbox_id, InboxStatus.PROCESSED, f"payout {', '.join(statuses)}")
