"""Treasury funding: money collected at one PSP and paid out through another.

A payout's rail must hold what it pays. When the rail's clearing (less what its open payouts
already promised) is short, the payout is funded at booking from the PSPs whose clearing has
room and that can pay the platform's bank, through the platform's treasury: one
FundingTransfer per source, committed with the payout. Before the payout goes to its rail,
each funding moves in two steps, each a movement its own PSP reports (docs/reconciliation.md
"Treasury funding"):

1. the treasury tops the rail up (Stripe `topups.create` under the funding's key), posted as
   `treasury_funding` (treasury -> the rail's clearing), intent
   `treasury_funding:<rail>:<top-up id>`, matched to Stripe's `topup` line;
2. the collecting PSP pays the treasury back (the sandbox: a payout to the platform's own bank
   account, key `<funding key>-sweep`, a new one after each refusal), posted as
   `treasury_sweep` (its clearing -> treasury),
   intent `treasury_sweep:<psp>:<payout id>`, matched to that PSP's `payout` line.

The top-up goes first: it is the step a bank may refuse, and a refused top-up has moved
nothing anywhere (the funding is `failed`, the payout fails back to the seller's balance and
the next run funds it afresh). The treasury nets to zero once both are done; neither PSP's
clearing is ever planned below zero.
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
from app.providers.base import ProviderError
from app.providers.registry import get_provider
from app.services import audit
from app.services.audit import Actor
from app.services.money import ledger, treasury_fx

PENDING, TOPPED_UP, SUCCEEDED, FAILED = "pending", "topped_up", "succeeded", "failed"
OPEN = (PayoutStatus.PENDING.value, PayoutStatus.IN_TRANSIT.value)


class Unfunded(Exception):
    """No PSP holds enough of the currency to fund the payout's rail."""


class SweepRefused(Exception):
    """The collecting PSP refused to pay the treasury back (its balance is short of what our
    ledger says it holds). Not a ProviderError: the rail is funded, so the payout must not be
    failed for it; the job fails loudly and retries."""


def _offers(provider: str, method: str) -> bool:
    try:
        adapter = get_provider(provider)
    except KeyError:
        return False
    return callable(getattr(getattr(adapter, "inner", adapter), method, None))


def can_receive(provider: str) -> bool:
    """Whether the rail takes top-ups from the treasury (Stripe: top-ups; the sandbox and
    Braintree pay out of what they collected)."""
    return _offers(provider, "fund")


def can_send(provider: str) -> bool:
    """Whether the PSP pays the platform's own bank on request, so a funding out of it is a
    movement it reports (the sandbox). Braintree disburses on its own schedule and reports no
    such payout, so money collected there funds no other rail."""
    return _offers(provider, "sweep")


def headroom(provider: str, currency: str, excluding: int | None = None) -> int:
    """What the PSP holds for us in the currency, less what open payouts through it and
    fundings out of it not yet repaid have already promised, plus pending fundings into it."""
    held = ledger.held_at_psp(provider, currency)
    promised = db.session.execute(select(func.coalesce(func.sum(Payout.amount), 0)).where(
        Payout.provider == provider, Payout.currency == currency, Payout.status.in_(OPEN),
        Payout.id != (excluding or 0))).scalar_one()
    # A pending funding is still to leave its source and reach its rail; one topped up has
    # reached its rail (in its clearing) and is still to leave its source.
    pending = db.session.execute(select(FundingTransfer.from_provider,
                                        FundingTransfer.to_provider, FundingTransfer.amount,
                                        FundingTransfer.status)
                                 .where(FundingTransfer.status.in_((PENDING, TOPPED_UP)),
                                        FundingTransfer.currency == currency))
    moving = sum(-amount if source == provider else
                 amount if target == provider and status == PENDING else 0
                 for source, target, amount, status in pending)
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
    room = sorted(((headroom(name, payout.currency), name) for name in sources
                   if can_send(name)), reverse=True)
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
    """Top the payout's rail up for each of its fundings, then have the source pay the
    treasury back, each step posted once; safe to repeat (each step's key makes it happen
    once, the funding's status and intents post it once). Errors propagate, so the payout is
    not sent until its rail is funded and the treasury repaid: a refused top-up as the rail's
    ProviderError (nothing moved, the payout fails), a refused sweep as SweepRefused."""
    treasury_fx.execute(payout_id, actor)  # converted at the rail before anything is topped up
    rows = db.session.execute(select(FundingTransfer.id, FundingTransfer.status).where(
        FundingTransfer.payout_id == payout_id).order_by(FundingTransfer.id)).all()
    if any(status == FAILED for _, status in rows):
        # A retry after the refusal was recorded: the rail is still not funded.
        raise ProviderError(f"the treasury could not fund payout {payout_id}",
                            code="topup_failed", executed=False)
    for funding_id, status in rows:
        if status == PENDING:
            _top_up(funding_id, payout_id, actor)
        if status in (PENDING, TOPPED_UP):
            _sweep(funding_id, payout_id, actor)


def _top_up(funding_id: int, payout_id: int, actor: Actor) -> None:
    funding = db.session.get(FundingTransfer, funding_id)
    try:
        reference = get_provider(funding.to_provider).fund(funding.amount, funding.currency,
                                                           funding.idempotency_key)
    except ProviderError as exc:
        if exc.retryable or exc.executed is not False:
            raise  # the job retries with the same key
        with unit_of_work():  # refused: recorded, and nothing posted
            row = locked(FundingTransfer, funding_id)
            if row.status == PENDING:
                row.status, row.settled_at = FAILED, now()
                row.psp_reference = getattr(exc, "reference", None)
                audit.record(actor, "treasury.funding_failed", f"payout:{payout_id}",
                             funding=row.id, amount=row.amount, currency=row.currency,
                             rail=row.to_provider, reference=row.psp_reference,
                             reason=str(exc)[:300])
        raise
    with unit_of_work():
        row = locked(FundingTransfer, funding_id)
        if row.status != PENDING:
            return
        row.status, row.psp_reference = TOPPED_UP, reference
        ledger.post(rules.treasury_funding(row.to_provider, row.currency, row.amount),
                    f"treasury_funding:{row.to_provider}:{reference}")
        audit.record(actor, "treasury.funded", f"payout:{payout_id}", funding=row.id,
                     amount=row.amount, currency=row.currency, source=row.from_provider,
                     rail=row.to_provider, reference=reference)


def _sweep(funding_id: int, payout_id: int, actor: Actor) -> None:
    funding = db.session.get(FundingTransfer, funding_id)
    db.session.refresh(funding)
    if funding.status != TOPPED_UP:
        return  # repaid already, or its top-up never arrived: nothing to pay back
    key = f"{funding.idempotency_key}-sweep{funding.sweep_attempts or ''}"
    try:
        reference = get_provider(funding.from_provider).sweep(funding.amount, funding.currency,
                                                              key)
    except ProviderError as exc:
        if exc.retryable or exc.executed is not False:
            raise  # the job retries with the same key
        with unit_of_work():  # certainly not executed: the next attempt gets a key of its own
            row = locked(FundingTransfer, funding_id)
            row.sweep_attempts += 1
            audit.record(actor, "treasury.sweep_refused", f"payout:{payout_id}",
                         funding=row.id, source=row.from_provider, reason=str(exc)[:300])
        raise SweepRefused(f"{funding.from_provider} refused to pay the treasury back "
                           f"{funding.amount} {funding.currency} (funding {funding_id}): "
                           f"{exc}") from exc
    with unit_of_work():
        row = locked(FundingTransfer, funding_id)
        if row.status != TOPPED_UP:
            return
        row.status, row.sweep_reference, row.settled_at = SUCCEEDED, reference, now()
        ledger.post(rules.treasury_sweep(row.from_provider, row.currency, row.amount),
                    f"treasury_sweep:{row.from_provider}:{reference}")
        audit.record(actor, "treasury.swept", f"payout:{payout_id}", funding=row.id,
                     amount=row.amount, currency=row.currency, source=row.from_provider,
                     reference=reference)


def transfers(limit: int = 200) -> list[FundingTransfer]:
    """Funding transfers, newest first (for reconciliation and support)."""
    return list(db.session.execute(select(FundingTransfer).order_by(
        FundingTransfer.id.desc()).limit(limit)).scalars())
