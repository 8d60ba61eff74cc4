"""Payouts: batch a seller's available balance, send it through the PSP, settle on its webhook.

Two payout runs can race (two workers, a manual click during the scheduled run): each locks the
seller's payout settings row and books the payout in the ledger in the same transaction, so the
second run finds the available balance already moved to "in transit" and pays nothing.
"""
from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import func, select

from app.clock import now
from app.database import locked, unit_of_work
from app.domain import ledger as rules
from app.domain.ledger import AccountKind
from app.domain.money import Money, format_money
from app.domain.payout_states import PayoutStatus, transition
from app.domain.refund_states import RefundStatus
from app.extensions import db
from app.keyset import Page, paginate
from app.models.escrow import EscrowHold
from app.models.ledger import LedgerEntry
from app.models.payouts import Payout
from app.models.refunds import Refund, RefundLine
from app.providers.base import ProviderError, ProviderPayout
from app.providers.registry import get_provider
from app.services import audit, notifications
from app.services.audit import Actor
from app.services.errors import Conflict
from app.services.money import bank_accounts, connected_accounts, ledger, payout_funding
from app.services.money import payout_rails as rails
from app.services.money.payout_settings import is_due, settings_for

P = PayoutStatus
def sellers_with_available() -> list[tuple[int, str]]:
    """(seller id, currency) pairs whose available balance may be positive."""
    rows = db.session.execute(select(LedgerEntry.owner, LedgerEntry.currency).where(
        LedgerEntry.kind == AccountKind.SELLER_AVAILABLE.value).distinct())
    return sorted((int(owner), currency) for owner, currency in rows)


def destination_for(seller_id: int, currency: str = "EUR") -> rails.Destination | None:
    """Where the seller's next payout goes on their rail (payout_rails); None: nowhere yet."""
    return rails.destination(seller_id, currency)


class _NotFunded(Exception):
    """A scheduled run's payout whose rail cannot be funded: nothing is booked."""


def pending_clawbacks(seller_id: int, currency: str) -> int:
    """The seller's share of refunds still PENDING on lines already released to them."""
    total = db.session.execute(
        select(func.coalesce(func.sum(RefundLine.amount - RefundLine.fee_returned), 0))
        .join(Refund, Refund.id == RefundLine.refund_id)
        .join(EscrowHold, EscrowHold.id == RefundLine.hold_id)
        .where(RefundLine.seller_id == seller_id, Refund.currency == currency,
               Refund.status == RefundStatus.PENDING.value,
               EscrowHold.released_at.is_not(None))).scalar_one()
    return int(total)


def book_payout(seller_id: int, currency: str, actor: Actor, *, manual: bool = False,
                at: datetime | None = None) -> int | None:
    """Move the available balance to "in transit" as a new payout; None when nothing is due."""
    try:
        return _book(seller_id, currency, actor, manual, at)
    except _NotFunded:
        return None


def _book(seller_id: int, currency: str, actor: Actor, manual: bool,
          at: datetime | None) -> int | None:
    with unit_of_work():
        settings = settings_for(seller_id)  # the lock that serialises payout runs per seller
        settings.version += 1
        if not manual and not is_due(settings, at or now()):
            return None
        # What a refund still pending at the PSP will claw back from this balance is not the
        # seller's to withdraw: paid out now, the refund would drive the balance below zero.
        available = (ledger.balance(AccountKind.SELLER_AVAILABLE, str(seller_id), currency)
                     - pending_clawbacks(seller_id, currency))
        # A balance at or below zero (a refund clawed back after release, docs/money.md) pays
        # nothing: later releases credit the same account and net it out first.
        if available <= 0 or (not manual and available < settings.minimum_amount):
            return None
        route = destination_for(seller_id, currency)
        if route is None:
            if manual:
                raise Conflict("Add a bank account before asking for a payout."
                               if settings.provider is None else
                               f"{rails.rail_of(settings.provider)} cannot pay you yet.")
            return None
        if not manual:
            settings.last_run_on = (at or now()).date()
        # Destination, amount and currency are frozen here: every retry of the key must carry
        # the same parameters, whatever the seller changes meanwhile.
        payout = Payout(seller_id=seller_id, currency=currency, amount=available,
                        provider=route.provider, idempotency_key=f"po_{secrets.token_hex(16)}",
                        destination_last4=route.last4, bank_account_id=route.bank_account_id,
                        destination_ref=route.account_ref)
        db.session.add(payout)
        db.session.flush()
        ledger.post(rules.payout_sent(seller_id, currency, available),
                    f"payout:sent:{payout.id}", payout_id=payout.id)
        try:
            # Collected at another PSP: funded through the treasury before it is sent.
            payout_funding.plan(payout)
        except payout_funding.Unfunded:
            if manual:
                raise Conflict("Your payout cannot be sent yet; try again later.") from None
            raise _NotFunded() from None
        audit.record(actor, "payout.booked", f"payout:{payout.id}", amount=available,
                     currency=currency, manual=manual, provider=payout.provider)
        return payout.id


def submit(payout_id: int, actor: Actor) -> Payout:
    """Send a booked payout to the PSP with its stored key; safe to call again after a crash."""
    payout = db.session.get(Payout, payout_id)
    if payout.state != P.PENDING:
        return payout
    if payout.provider == connected_accounts.STRIPE:
        # A Transfer to the connected account, grouped under this payout's own key (a
        # payout batches many orders; docs/providers.md "Stripe Connect").
        ref = payout.destination_ref
        if ref is None:  # booked before destinations were frozen (migration 0019)
            account = connected_accounts.stripe_account(payout.seller_id)
            ref = account.account_ref if account else ""
        destination, holder = {"stripe_account": ref,
                               "transfer_group": payout.idempotency_key}, ""
    elif payout.provider == rails.BRAINTREE:
        destination, holder = {"merchant_account_id": payout.destination_ref}, ""
    elif payout.bank_account_id is not None:
        destination, holder = bank_accounts.reveal_account(payout.bank_account_id,
                                                           payout.seller_id, actor)
    else:  # booked before destinations were frozen (migration 0019)
        destination, holder = bank_accounts.reveal_destination(payout.seller_id, actor)
    try:
        # The rail holds the money before it pays: a top-up the bank refused is a refusal of
        # this payout (nothing moved; the money is the seller's again, funded afresh next run).
        payout_funding.execute(payout_id, actor)
        result = get_provider(payout.provider).create_payout(
            payout.amount, payout.currency, destination, holder, payout.idempotency_key)
    except ProviderError as exc:
        if exc.retryable:
            raise  # the job retries with the same key
        if exc.executed is not False:
            # An idempotency error (or any refusal of a key that may have executed) says
            # nothing about the money: never "failed", which would pay it again.
            return flag(payout_id, f"the PSP answered {exc.code} to payout {payout_id}: "
                        f"{exc}", actor)
        return apply_result(payout_id, ProviderPayout("", "failed", payout.amount,
                                                      payout.currency, exc.code, str(exc)),
                            actor)
    return take_back(apply_result(payout_id, result, actor), actor)


def flag(payout_id: int, reason: str, actor: Actor) -> Payout:
    """Put a payout in front of support, once, without moving its money."""
    with unit_of_work():
        payout = locked(Payout, payout_id)
        if not payout.needs_review:
            payout.needs_review, payout.review_reason = True, reason[:500]
            audit.record(actor, "payout.needs_review", f"payout:{payout.id}", reason=reason)
        return payout


def apply_result(payout_id: int, result: ProviderPayout, actor: Actor) -> Payout:
    """Bring a payout forward to what the PSP reports, with its ledger posting, once."""
    with unit_of_work():
        payout = locked(Payout, payout_id)
        if result.reference and not payout.psp_reference:
            payout.psp_reference = result.reference
        if result.rail_reference and not payout.rail_reference:
            payout.rail_reference = result.rail_reference
        if result.reference and (result.amount != payout.amount
                                 or result.currency.upper() != payout.currency.upper()):
            if not payout.needs_review:
                reason = (f"the PSP reports payout {payout.id} as "
                          f"{format_money(Money(result.amount, result.currency.upper()))}, "
                          f"we sent {format_money(payout.total)}")
                payout.needs_review, payout.review_reason = True, reason
                audit.record(actor, "payout.needs_review", f"payout:{payout.id}", reason=reason)
            return payout
        target = {"in_transit": P.IN_TRANSIT, "paid": P.PAID, "failed": P.FAILED}.get(
            result.status)
        if target == P.FAILED and payout.state == P.PAID:
            target = P.RETURNED  # failed after "paid": the bank sent it back
        if target is None or target == payout.state or payout.state in (
                P.FAILED, P.RETURNED) or (payout.state == P.PAID and target != P.RETURNED):
            return payout
        payout.status = transition(payout.state, target).value
        if target == P.PAID:
            payout.settled_at = now()
            ledger.post(rules.payout_paid(payout.seller_id, payout.provider, payout.currency,
                                          payout.amount), f"payout:paid:{payout.id}",
                        payout_id=payout.id, psp_ref=payout.psp_reference)
            notifications.notify_template(
                payout.seller_id, "payout_paid",
                f"Your payout of {format_money(payout.total)} was paid", "payout_paid",
                payout=payout)
        elif target == P.FAILED:
            payout.settled_at = now()
            payout.failure_code = result.failure_code
            payout.failure_message = failure_words(result.failure_code, result.failure_message)
            ledger.post(rules.payout_failed(payout.seller_id, payout.currency, payout.amount),
                        f"payout:failed:{payout.id}", payout_id=payout.id)
            notifications.notify(
                payout.seller_id, "payout_failed",
                f"Your payout of {format_money(payout.total)} failed",
                f"{payout.failure_message}\n\nThe money is back in your available balance and "
                "will be paid out again with your next payout.")
        elif target == P.RETURNED:
            payout.returned_at = now()
            payout.failure_code = result.failure_code
            payout.failure_message = failure_words(result.failure_code, result.failure_message)
            ledger.post(rules.payout_returned(payout.seller_id, payout.provider,
                                              payout.currency, payout.amount),
                        f"payout:returned:{payout.id}", payout_id=payout.id,
                        psp_ref=payout.psp_reference)
            notifications.notify(
                payout.seller_id, "payout_failed",
                f"Your payout of {format_money(payout.total)} came back",
                f"{payout.failure_message}\n\nYour bank returned the payout; the money is back "
                "in your available balance and will be paid out again with your next payout.")
        audit.record(actor, "payout.status_changed", f"payout:{payout.id}",
                     after=payout.status, failure=payout.failure_code)
        return payout


FAILURE_WORDS = {
    "account_closed": "Your bank says this account is closed. Update your bank account.",
    "no_account": "Your bank could not find this account. Check the account details.",
    "insufficient_funds": "The transfer could not be completed. We will try again.",
    "topup_failed": "We could not move the money to your payout provider in time.",
}


def take_back(payout: Payout, actor: Actor) -> Payout:
    """A failed or returned Stripe Connect payout: the money sits in the seller's connected
    account, so the transfer is reversed (once, under a key of the payout's) to bring it back
    to the platform's Stripe balance, where the ledger already has it again."""
    if payout.provider != rails.STRIPE or payout.state not in (P.FAILED, P.RETURNED) \
            or not payout.psp_reference:
        return payout
    adapter = get_provider(rails.STRIPE)
    key = f"{payout.idempotency_key}-back"
    try:
        if adapter.find_reversal(payout.psp_reference, key) is None:
            adapter.reverse_transfer(payout.psp_reference, payout.amount, key)
    except ProviderError as exc:
        if exc.retryable:
            raise  # the job (webhook, submit or sweep) retries with the same key
        return flag(payout.id, f"the failed payout's transfer could not be reversed: {exc}",
                    actor)
    return payout


def failure_words(code: str | None, fallback: str | None) -> str:
    """What the seller reads when a payout fails."""
    return FAILURE_WORDS.get(code or "", fallback or "The payout failed. Check your bank account.")


def refresh(payout_id: int, actor: Actor) -> Payout:
    """Re-fetch one payout from the PSP and apply what it says."""
    payout = db.session.get(Payout, payout_id)
    result = get_provider(payout.provider).retrieve_payout(payout.psp_reference)
    payout = take_back(apply_result(payout_id, result, actor), actor)
    with unit_of_work():
        locked(Payout, payout_id).checked_at = now()
    return payout


def history(seller_id: int, limit: int = 50) -> list[Payout]:
    """The seller's newest payouts."""
    return history_page(seller_id, None, limit).rows


def history_page(seller_id: int, cursor: str | None, limit: int = 50) -> Page:
    """The seller's payouts, newest first, one keyset page after `cursor`."""
    return paginate(select(Payout).where(Payout.seller_id == seller_id), [Payout.id], cursor,
                    limit, arg="payouts_after")
