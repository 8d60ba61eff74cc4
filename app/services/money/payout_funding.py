"""Treasury funding: money collected at one PSP and paid out through another.

A payout's rail must hold what it pays. When the rail's clearing (less what its open payouts
already promised) is short, the payout is funded at booking from the PSPs whose clearing has
room, through the platform's treasury: one FundingTransfer per source, committed with the
payout. Before the payout goes to its rail, each funding is executed as a top-up at the rail
(its key committed first, so a retry tops up once), and posted as a "treasury_funding" ledger
transaction (intent `funding:<id>`) that names both PSPs; its top-up id is the PSP reference
reconciliation matches. Neither PSP's clearing is ever planned below zero.
"""
from __future__ import annotations

import secrets

from sqlalchemy import func, select

from app.clock import now
from app.database import locked, unit_of_work
from app.domain import ledger as rules
from app.domain.ledger import AccountKind
from app.domain.payout_states import PayoutStatus
from app.extensions import db
from app.models.ledger import LedgerEntry
from app.models.payouts import FundingTransfer, Payout
from app.providers.registry import get_provider
from app.services import audit
from app.services.audit import Actor
from app.services.money import ledger, treasury_fx

PENDING, SUCCEEDED = "pending", "succeeded"
OPEN = (PayoutStatus.PENDING.value, PayoutStatus.IN_TRANSIT.value)


class Unfunded(Exception):
    """No PSP holds enough of the currency to fund the payout's rail."""


def can_receive(provider: str) -> bool:
    """Whether the rail takes top-ups from the treasury (Stripe: top-ups; the sandbox and
    Braintree pay out of what they collected)."""
    try:
        adapter = get_provider(provider)
    except KeyError:
        return False
    return callable(getattr(getattr(adapter, "inner", adapter), "fund", None))


def headroom(provider: str, currency: str, excluding: int | None = None) -> int:
    """What the PSP holds for us in the currency, less what open payouts through it and
    pending fundings out of it have already promised, plus pending fundings into it."""
    held = ledger.held_at_psp(provider, currency)
    promised = db.session.execute(select(func.coalesce(func.sum(Payout.amount), 0)).where(
        Payout.provider == provider, Payout.currency == currency, Payout.status.in_(OPEN),
        Payout.id != (excluding or 0))).scalar_one()
    pending = db.session.execute(select(FundingTransfer.from_provider,
                                        FundingTransfer.to_provider, FundingTransfer.amount)
                                 .where(FundingTransfer.status == PENDING,
                                        FundingTransfer.currency == currency))
    moving = sum(-amount if source == provider else amount if target == provider else 0
                 for source, target, amount in pending)
    return held - int(promised) + moving + treasury_fx.pending(provider, currency)


def plan(payout: Payout) -> list[FundingTransfer]:
    """Fund a payout just booked (caller's transaction, under the seller's payout lock) when
    its rail cannot pay it from its own clearing; [] when it can. What converted sales owe in
    its currency is first converted at the rail (treasury_fx); the rest is funded from other
    PSPs. Unfunded when no PSP has the room, or the rail takes no top-ups."""
    short = payout.amount - max(0, headroom(payout.provider, payout.currency, payout.id))
    if short > 0 and treasury_fx.plan(payout, short):
        short = payout.amount - max(0, headroom(payout.provider, payout.currency, payout.id))
    if short <= 0:
        return []
    if not can_receive(payout.provider):
        # The sandbox and Braintree pay out of what they collected: paying more would take
        # their clearing below zero, so the payout waits until they hold it.
        raise Unfunded(f"{payout.provider} holds too little {payout.currency} for payout "
                       f"{payout.id} and takes no top-ups")
    sources = db.session.execute(select(LedgerEntry.owner).where(
        LedgerEntry.kind.in_([AccountKind.PSP_CLEARING.value, AccountKind.PSP_BALANCE.value]),
        LedgerEntry.currency ==
        payout.currency, LedgerEntry.owner != payout.provider).distinct()).scalars().all()
    room = sorted(((headroom(name, payout.currency), name) for name in sources), reverse=True)
    if sum(max(0, amount) for amount, _ in room) < short:
        raise Unfunded(f"no PSP holds {short} {payout.currency} to fund payout {payout.id}")
    planned = []
    for amount, name in room:
        take = min(short, amount)
        if take <= 0:
            break
        planned.append(FundingTransfer(payout_id=payout.id, currency=payout.currency,
                                       amount=take, from_provider=name,
                                       to_provider=payout.provider,
                                       idempotency_key=f"fund_{secrets.token_hex(16)}"))
        short -= take
    db.session.add_all(planned)
    return planned


def execute(payout_id: int, actor: Actor) -> None:
    """Top the payout's rail up for each pending funding, then post it; safe to repeat (the
    key makes the top-up happen once, the intent the posting). Errors propagate: the payout
    is not sent until its rail is funded."""
    treasury_fx.execute(payout_id, actor)  # converted at the rail before anything is topped up
    pending = db.session.execute(select(FundingTransfer).where(
        FundingTransfer.payout_id == payout_id, FundingTransfer.status == PENDING)
        .order_by(FundingTransfer.id)).scalars().all()
    for funding in pending:
        reference = get_provider(funding.to_provider).fund(funding.amount, funding.currency,
                                                           funding.idempotency_key)
        with unit_of_work():
            row = locked(FundingTransfer, funding.id)
            if row.status != PENDING:
                continue
            row.status, row.psp_reference, row.settled_at = SUCCEEDED, reference, now()
            ledger.post(rules.treasury_funding(row.from_provider, row.to_provider,
                                               row.currency, row.amount), f"funding:{row.id}")
            audit.record(actor, "treasury.funded", f"payout:{payout_id}", funding=row.id,
                         amount=row.amount, currency=row.currency, source=row.from_provider,
                         rail=row.to_provider, reference=reference)


def transfers(limit: int = 200) -> list[FundingTransfer]:
    """Funding transfers, newest first (for reconciliation and support)."""
    return list(db.session.execute(select(FundingTransfer).order_by(
        FundingTransfer.id.desc()).limit(limit)).scalars())
