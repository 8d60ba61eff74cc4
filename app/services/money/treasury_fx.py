"""Treasury conversion: a payout owed in one currency out of a sale paid in another.

A buyer who paid a mixed cart in EUR left EUR at the PSP, while the USD seller is credited in
USD (docs/fx-and-tax.md): the platform's position is long EUR and short USD (the
`fx_conversion` account of each currency). When a payout in X finds its rail short of X and
the position says X is owed, the treasury books — with the payout, under the seller's payout
lock — a conversion at the rail: sell a presentment currency it holds there, buy X. Before the
payout is sent, the conversion is executed at the PSP under its stored key (a retry converts
once) and posted per currency ("treasury_conversion", intent `conversion:<id>:<currency>`),
with an audit record naming both amounts, the rate and the PSP's conversion id.

The rate is the one frozen on the orders that made the position (their amounts at the mid
rate over what their sellers are credited): the platform bought that X from its buyers at
that rate, so selling the P back at it squares both positions and the FX result stays the
margin already earned at checkout. Execution at another market rate is not modelled (the
sandbox converts at the treasury's booked amounts).
"""
from __future__ import annotations

import secrets
from decimal import Decimal

from sqlalchemy import func, select

from app.clock import now
from app.database import locked, unit_of_work
from app.domain import cross_currency as rules
from app.domain import fx
from app.domain.ledger import AccountKind
from app.extensions import db
from app.models import Order, OrderLine
from app.models.payouts import Payout, TreasuryConversion
from app.providers.registry import get_provider
from app.services import audit
from app.services.audit import Actor
from app.services.money import ledger

PENDING, SUCCEEDED = "pending", "succeeded"


def can_convert(provider: str) -> bool:
    """Whether the PSP converts the platform's balance between currencies (the sandbox)."""
    try:
        adapter = get_provider(provider)
    except KeyError:
        return False
    return callable(getattr(getattr(adapter, "inner", adapter), "convert", None))


def pending(provider: str, currency: str) -> int:
    """What booked, unexecuted conversions at the PSP will add (+) to or take (−) from its
    holding in the currency."""
    rows = db.session.execute(select(TreasuryConversion.sold_currency,
                                     TreasuryConversion.sold_amount,
                                     TreasuryConversion.bought_currency,
                                     TreasuryConversion.bought_amount).where(
        TreasuryConversion.provider == provider, TreasuryConversion.status == PENDING))
    return sum((bought if to == currency else 0) - (sold if frm == currency else 0)
               for frm, sold, to, bought in rows)


def _position(currency: str) -> int:
    """The platform's open position in a currency, pending conversions included: > 0 it holds
    converted buyers' money in it, < 0 it owes sellers that much of it."""
    booked = ledger.balance(AccountKind.FX_CONVERSION, "", currency)
    rows = db.session.execute(select(TreasuryConversion.sold_currency,
                                     TreasuryConversion.sold_amount,
                                     TreasuryConversion.bought_currency,
                                     TreasuryConversion.bought_amount).where(
        TreasuryConversion.status == PENDING))
    return booked + sum((bought if to == currency else 0) - (sold if frm == currency else 0)
                        for frm, sold, to, bought in rows)


def _frozen_pairs(currency: str) -> list[tuple[str, int, int]]:
    """(presentment currency, paid at mid, settled) over captured lines converted into
    `currency`: the rate each presentment currency bought it at, frozen on the orders."""
    at_mid = OrderLine.presentment_amount - OrderLine.fx_margin
    rows = db.session.execute(
        select(Order.currency, func.sum(at_mid), func.sum(OrderLine.line_total))
        .join(Order, Order.id == OrderLine.order_id)
        .where(OrderLine.currency == currency, Order.currency != currency,
               OrderLine.presentment_amount.is_not(None), Order.paid_at.is_not(None))
        .group_by(Order.currency))
    return [(cur, int(paid), int(settled)) for cur, paid, settled in rows if paid and settled]


def plan(payout: Payout, short: int) -> list[TreasuryConversion]:
    """Book the conversions that cover up to `short` of the payout's currency at its rail
    (caller's transaction, with the payout): no more than the platform owes in it, out of the
    presentment currencies it holds there from converted sales. [] when there is nothing to
    convert; the caller funds or refuses the rest as before."""
    from app.services.money.payout_funding import headroom  # it counts our pending rows

    owed = -_position(payout.currency)
    want = min(short, owed)
    if want <= 0 or not can_convert(payout.provider):
        return []
    booked = []
    # The largest position first: fewest conversions, and the one most exposed to the rate.
    for sold_currency, paid, settled in sorted(
            _frozen_pairs(payout.currency), key=lambda p: -_position(p[0])):
        if want <= 0:
            break
        room = min(_position(sold_currency), headroom(payout.provider, sold_currency))
        buy = min(want, fx.settled_for(max(0, room), paid, settled))
        if buy <= 0:
            continue
        sell = fx.at_frozen(buy, paid, settled)
        conversion = TreasuryConversion(
            payout_id=payout.id, provider=payout.provider, sold_currency=sold_currency,
            sold_amount=sell, bought_currency=payout.currency, bought_amount=buy,
            rate=f"{Decimal(buy) / Decimal(sell):.12g}",  # for people: the amounts are exact
            idempotency_key=f"cv_{secrets.token_hex(16)}")
        db.session.add(conversion)
        db.session.flush()  # the next currency's room sees this one
        booked.append(conversion)
        want -= buy
    return booked


def execute(payout_id: int, actor: Actor) -> None:
    """Convert at the PSP for each pending conversion of the payout, then post it; safe to
    repeat (the key converts once, the intents post once). Errors propagate: the payout is
    not sent until its rail holds its currency."""
    rows = db.session.execute(select(TreasuryConversion).where(
        TreasuryConversion.payout_id == payout_id, TreasuryConversion.status == PENDING)
        .order_by(TreasuryConversion.id)).scalars().all()
    for row in rows:
        reference = get_provider(row.provider).convert(
            row.sold_amount, row.sold_currency, row.bought_amount, row.bought_currency,
            row.idempotency_key)
        with unit_of_work():
            conversion = locked(TreasuryConversion, row.id)
            if conversion.status != PENDING:
                continue
            conversion.status, conversion.psp_reference = SUCCEEDED, reference
            conversion.settled_at = now()
            for posting in rules.treasury_conversion(
                    conversion.provider, conversion.sold_currency, conversion.sold_amount,
                    conversion.bought_currency, conversion.bought_amount):
                # Not under payout_id: the payout's own postings stay sent/paid/failed
                # (ledger_checks.payouts_posted), as for treasury funding.
                ledger.post(posting, f"conversion:{conversion.id}:{posting.currency}",
                            psp_ref=f"{reference}:{posting.currency}")
            audit.record(actor, "treasury.converted", f"payout:{payout_id}",
                         conversion=conversion.id, provider=conversion.provider,
                         sold=conversion.sold_amount, sold_currency=conversion.sold_currency,
                         bought=conversion.bought_amount,
                         bought_currency=conversion.bought_currency, rate=conversion.rate,
                         reference=reference)


def conversions(limit: int = 200) -> list[TreasuryConversion]:
    """Treasury conversions, newest first (for reconciliation and support)."""
    return list(db.session.execute(select(TreasuryConversion).order_by(
        TreasuryConversion.id.desc()).limit(limit)).scalars())
