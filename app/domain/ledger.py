"""Double-entry posting rules: which accounts move, by how much, for each business event.

A leg's amount is signed: positive debits, negative credits. A posting is one business event in
one currency and its legs always sum to zero — the constructor refuses anything else. Balances
are shown on each account's normal side: assets and expenses (PSP clearing, PSP fees) are
debit-normal; what we owe or earned (escrow, seller balances, platform fees) is credit-normal.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class AccountKind(str, Enum):
    """The ledger's chart of accounts (each kind per currency, some per owner)."""

    PSP_CLEARING = "psp_clearing"          # what the PSP holds for us (per provider)
    PSP_FEES = "psp_fees"                  # what PSPs charged us
    ESCROW = "escrow"                      # captured, held for a seller
    SELLER_AVAILABLE = "seller_available"  # released to the seller, not yet paid out
    SELLER_IN_TRANSIT = "seller_in_transit"  # sent to the seller's bank, not yet confirmed
    PLATFORM_FEES = "platform_fees"        # our revenue

    def __str__(self) -> str:
        return self.value


DEBIT_NORMAL = frozenset({AccountKind.PSP_CLEARING, AccountKind.PSP_FEES})
SELLER_KINDS = frozenset({AccountKind.ESCROW, AccountKind.SELLER_AVAILABLE,
                          AccountKind.SELLER_IN_TRANSIT})


class UnbalancedPosting(ValueError):
    """Legs that do not sum to zero, mix currencies, or break a posting rule."""


@dataclass(frozen=True)
class Account:
    """One account: its kind, and the seller or provider it belongs to (if any)."""

    kind: AccountKind
    owner: str = ""   # seller id for seller accounts, provider name for PSP clearing

    @property
    def code(self) -> str:
        """Stable text form, e.g. "escrow:12" or "psp_clearing:sandbox"."""
        return f"{self.kind.value}:{self.owner}" if self.owner else self.kind.value


@dataclass(frozen=True)
class Leg:
    """One side of a posting: + debit, − credit, in minor units."""

    account: Account
    amount: int


@dataclass(frozen=True)
class Posting:
    """A balanced set of legs for one business event in one currency."""

    event: str
    currency: str
    legs: tuple[Leg, ...]

    def __post_init__(self) -> None:
        if not self.legs:
            raise UnbalancedPosting(f"{self.event}: a posting needs legs")
        for leg in self.legs:
            if isinstance(leg.amount, bool) or not isinstance(leg.amount, int):
                raise UnbalancedPosting(f"{self.event}: amounts are integer minor units")
        total = sum(leg.amount for leg in self.legs)
        if total != 0:
            raise UnbalancedPosting(f"{self.event}: legs sum to {total}, not 0")


def normal_balance(kind: AccountKind, signed_sum: int) -> int:
    """An account's balance on its normal side from the sum of its signed legs."""
    return signed_sum if kind in DEBIT_NORMAL else -signed_sum


def _posting(event: str, currency: str, legs: list[Leg]) -> Posting:
    # Zero legs carry no information (a fee of 0, say): leave them out.
    return Posting(event, currency, tuple(leg for leg in legs if leg.amount != 0))


def seller(kind: AccountKind, seller_id: int) -> Account:
    """A seller's account of the given kind."""
    return Account(kind, str(seller_id))


def capture(provider: str, currency: str, captured: int, psp_fee: int,
            shares: dict[int, int]) -> Posting:
    """Money captured from a buyer: PSP clearing (net of its fee) against escrow per seller."""
    if sum(shares.values()) != captured:
        raise UnbalancedPosting(f"seller shares {sum(shares.values())} != captured {captured}")
    if not 0 <= psp_fee <= captured:
        raise UnbalancedPosting(f"PSP fee {psp_fee} outside 0..{captured}")
    legs = [Leg(Account(AccountKind.PSP_CLEARING, provider), captured - psp_fee),
            Leg(Account(AccountKind.PSP_FEES), psp_fee)]
    legs += [Leg(seller(AccountKind.ESCROW, sid), -amount) for sid, amount in sorted(shares.items())]
    return _posting("capture", currency, legs)


def release(seller_id: int, currency: str, gross: int, platform_fee: int) -> Posting:
    """Escrow released: the seller's share to available, the platform's fee to revenue."""
    if not 0 <= platform_fee <= gross:
        raise UnbalancedPosting(f"platform fee {platform_fee} outside 0..{gross}")
    return _posting("escrow_release", currency, [
        Leg(seller(AccountKind.ESCROW, seller_id), gross),
        Leg(seller(AccountKind.SELLER_AVAILABLE, seller_id), -(gross - platform_fee)),
        Leg(Account(AccountKind.PLATFORM_FEES), -platform_fee),
    ])


def payout_sent(seller_id: int, currency: str, amount: int) -> Posting:
    """A payout leaves the seller's available balance and is in transit to their bank."""
    return _posting("payout_sent", currency, [
        Leg(seller(AccountKind.SELLER_AVAILABLE, seller_id), amount),
        Leg(seller(AccountKind.SELLER_IN_TRANSIT, seller_id), -amount),
    ])


def payout_paid(seller_id: int, provider: str, currency: str, amount: int) -> Posting:
    """The bank confirmed the payout: it leaves the PSP's balance for good."""
    return _posting("payout_paid", currency, [
        Leg(seller(AccountKind.SELLER_IN_TRANSIT, seller_id), amount),
        Leg(Account(AccountKind.PSP_CLEARING, provider), -amount),
    ])


def payout_failed(seller_id: int, currency: str, amount: int) -> Posting:
    """The bank refused the payout: the money is the seller's to withdraw again."""
    return _posting("payout_failed", currency, [
        Leg(seller(AccountKind.SELLER_IN_TRANSIT, seller_id), amount),
        Leg(seller(AccountKind.SELLER_AVAILABLE, seller_id), -amount),
    ])
