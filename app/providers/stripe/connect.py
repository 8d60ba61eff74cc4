"""Stripe Connect for the marketplace: sellers' connected accounts, transfers, reversals.

Separate charges and transfers: the buyer pays the platform; a seller's payout is a Transfer
to their connected account (transfer_group = the order); a clawback is a TransferReversal.
"""
from __future__ import annotations

from dataclasses import dataclass

from app.providers.base import ProviderError, ProviderPayout
from app.providers.stripe import mapping
from app.providers.stripe.mapping import PAYOUT_KEY

REVERSAL_KEY = "holdfast_reversal"  # on transfer reversals: the key that created it


@dataclass(frozen=True)
class TransferReversal:
    """A clawback of (part of) a transfer from a seller's connected account."""

    reference: str
    transfer_reference: str
    amount: int
    currency: str


def transfer(provider, amount: int, currency: str, destination: dict,
             idempotency_key: str) -> ProviderPayout:
    """Pay a seller through Connect: a Transfer to their connected account (destination
    {"stripe_account", optional "transfer_group"}), then that account's payout to its bank,
    each under its own key derived from ours so a retry repeats both exactly once. Bank details
    are refused (Stripe pays the bank itself)."""
    account = destination.get("stripe_account")
    if not account:
        raise ProviderError("Stripe pays sellers through connected accounts only",
                            code="destination_unsupported", executed=False)
    params = {"amount": amount, "currency": mapping.to_psp_currency(currency),
              "destination": account, "metadata": {PAYOUT_KEY: idempotency_key}}
    if destination.get("transfer_group"):
        params["transfer_group"] = destination["transfer_group"]
    moved = provider._call(provider._client.v1.transfers.create, params, key=idempotency_key)
    try:
        bank = provider._call(provider._client.v1.payouts.create, {
            "amount": amount, "currency": params["currency"],
            "metadata": {PAYOUT_KEY: idempotency_key}},
            key=f"{idempotency_key}-bank", account=account)
    except ProviderError as exc:
        if exc.retryable or exc.executed is not False:
            raise  # the job retries: the transfer replays, the payout is asked for again
        # Stripe refused the bank payout for good: the money sits in the connected account;
        # "failed" with the transfer's id, so the platform reverses the transfer.
        return mapping.connect_payout(moved, None, failure=(exc.code, str(exc)))
    return mapping.connect_payout(moved, bank)


def retrieve(provider, transfer_reference: str) -> ProviderPayout:
    """A Connect payout as it stands: the transfer, and its connected account's payout to the
    bank found by our key in its metadata (Stripe lists them newest first)."""
    moved = provider._call(provider._client.v1.transfers.retrieve, transfer_reference)
    key = (moved.get("metadata") or {}).get(PAYOUT_KEY)
    listed = provider._call(provider._client.v1.payouts.list, {"limit": 100},
                            account=moved["destination"])
    bank = next((p for p in listed.get("data") or []
                 if (p.get("metadata") or {}).get(PAYOUT_KEY) == key), None)
    return mapping.connect_payout(moved, bank)


def fund(provider, amount: int, currency: str, idempotency_key: str) -> str:
    """Top the platform's Stripe balance up from its bank (the treasury): the top-up's id. A
    top-up the bank refused (failed, canceled, reversed) is a ProviderError `topup_failed`
    that names it: nothing arrived, so nothing may be booked or paid out of it."""
    result = provider._call(provider._client.v1.topups.create, {
        "amount": amount, "currency": mapping.to_psp_currency(currency),
        "description": "Holdfast treasury funding", "metadata": {"holdfast_funding":
                                                                 idempotency_key}},
        key=idempotency_key)
    if result.get("status") in ("failed", "canceled", "reversed"):
        reason = result.get("failure_message") or result.get("status")
        refused = ProviderError(f"Stripe refused top-up {result['id']}: {reason}",
                                code="topup_failed", executed=False)
        refused.reference = result["id"]  # what Stripe's report names it by
        raise refused
    return result["id"]


def reverse_transfer(provider, transfer_reference: str, amount: int,
                     idempotency_key: str) -> TransferReversal:
    """Claw back `amount` of a transfer, exactly once per idempotency key."""
    # Our key rides along so a reversal whose answer was lost is found again (find_reversal):
    # Stripe replays a saved 500 to a retry with the same key.
    result = provider._call(provider._client.v1.transfers.reversals.create,
                            transfer_reference, {"amount": amount,
                                                 "metadata": {REVERSAL_KEY: idempotency_key}},
                            key=idempotency_key)
    return _to_reversal(result)


def find_reversal(provider, transfer_reference: str,
                  idempotency_key: str) -> TransferReversal | None:
    """The reversal of this transfer made with our key, if Stripe has one."""
    transfer = provider._call(provider._client.v1.transfers.retrieve, transfer_reference)
    for reversal in (transfer.get("reversals") or {}).get("data") or []:
        if (reversal.get("metadata") or {}).get(REVERSAL_KEY) == idempotency_key:
            return _to_reversal(reversal)
    return None


def _to_reversal(result: dict) -> TransferReversal:
    return TransferReversal(reference=result["id"], transfer_reference=result["transfer"],
                            amount=int(result["amount"]), currency=result["currency"].upper())


def create_account(provider, email: str, country: str, idempotency_key: str) -> str:
    """Open an Express connected account for a seller; its id (acct_…)."""
    result = provider._call(provider._client.v1.accounts.create, {
        "type": "express", "country": country, "email": email,
        "capabilities": {"transfers": {"requested": True}}}, key=idempotency_key)
    return result["id"]


@dataclass(frozen=True)
class ConnectedAccount:
    """What the platform needs to know of a seller's connected account."""

    reference: str
    transfers_active: bool   # Stripe accepts transfers to it (onboarding far enough)


def retrieve_account(provider, account_id: str) -> ConnectedAccount:
    """Look a connected account up (ProviderError resource_missing when Stripe has none)."""
    result = provider._call(provider._client.v1.accounts.retrieve, account_id)
    capabilities = result.get("capabilities") or {}
    return ConnectedAccount(reference=result["id"],
                            transfers_active=capabilities.get("transfers") == "active")
