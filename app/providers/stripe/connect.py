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
    """Move a seller's money to their connected account: destination {"stripe_account",
    optional "transfer_group"}; bank details are refused (Stripe pays the bank itself)."""
    account = destination.get("stripe_account")
    if not account:
        raise ProviderError("Stripe pays sellers through connected accounts only",
                            code="destination_unsupported", executed=False)
    params = {"amount": amount, "currency": mapping.to_psp_currency(currency),
              "destination": account, "metadata": {PAYOUT_KEY: idempotency_key}}
    if destination.get("transfer_group"):
        params["transfer_group"] = destination["transfer_group"]
    result = provider._call(provider._client.v1.transfers.create, params, key=idempotency_key)
    return mapping.transfer_to_payout(result)


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
