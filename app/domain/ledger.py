"""Double-entry posting rules: which accounts move, by how much, for each business event.

A leg's amount is signed: positive debits, negative credits. A posting is one business event in
one currency and its legs always sum to zero — the constructor refuses anything else. Balances
are shown on each account's normal side: assets and expenses (PSP clearing, PSP fees) are
debit-normal; what we owe or earned (escrow, seller balances, platform fees) is credit-normal.
"""
from __future__ import annotations

from collections.abc import Iterable
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
    # What a PSP withdrew for an open chargeback (amount + its fee), per provider: a claim on
    # the PSP that comes back if the dispute is won.
    DISPUTE_RESERVE = "dispute_reserve"
    DISPUTE_LOSSES = "dispute_losses"      # chargebacks lost that the platform bears
    # A released share frozen by an open chargeback: still the seller's if the dispute is won.
    SELLER_RESERVED = "seller_reserved"
    # Money a PSP captured on a payment that must give it back (a second payment of a paid
    # order): owed to the buyer until the refund goes through; no seller, no fee.
    GIVE_BACK = "give_back"
    # The platform's own bank account, through which money moves from the PSP that collected
    # it to the PSP that pays it out (docs/money.md "Payout rails"); zero between transfers.
    TREASURY = "treasury"
    # What the PSP's own settlement report confirms it holds for us (per provider): matched
    # report lines move their net here from PSP clearing, so clearing is only what the PSP has
    # not yet confirmed, and returns to zero for every fully reconciled day.
    PSP_BALANCE = "psp_balance"
    # Cross-currency orders (app/domain/cross_currency.py): one conversion account per
    # currency carries the platform's currency position (credited in the currency the buyer
    # paid, debited in the currency a seller is credited), so each currency balances on its
    # own; the FX margin is platform revenue; tax collected is owed per country.
    FX_CONVERSION = "fx_conversion"
    FX_MARGIN = "fx_margin"
    TAX_PAYABLE = "tax_payable"            # per country (owner: ISO code)
    # What converting back at an order's frozen rate cost (debit) or earned (credit) the
    # platform against the reference rate of the day of the refund.
    FX_RESULT = "fx_result"

    def __str__(self) -> str:
        return self.value


DEBIT_NORMAL = frozenset({AccountKind.PSP_CLEARING, AccountKind.PSP_FEES, AccountKind.TREASURY,
                          AccountKind.PSP_BALANCE,
                          AccountKind.DISPUTE_RESERVE, AccountKind.DISPUTE_LOSSES})
SELLER_KINDS = frozenset({AccountKind.ESCROW, AccountKind.SELLER_AVAILABLE,
                          AccountKind.SELLER_IN_TRANSIT, AccountKind.SELLER_RESERVED})


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


def payout_returned(seller_id: int, provider: str, currency: str, amount: int) -> Posting:
    """The bank sent a paid payout back: the PSP holds it again, and it is the seller's again."""
    return _posting("payout_returned", currency, [
        Leg(Account(AccountKind.PSP_CLEARING, provider), amount),
        Leg(seller(AccountKind.SELLER_AVAILABLE, seller_id), -amount),
    ])


def treasury_funding(to_provider: str, currency: str, amount: int) -> Posting:
    """The treasury (the platform's bank) tops a payout's rail up: the money leaves the bank
    and the rail's PSP holds it (Stripe's `topup` line). Only that PSP's clearing moves, by
    what that PSP reports; the collecting PSP's side is `treasury_sweep`."""
    if amount <= 0:
        raise UnbalancedPosting(f"funding {amount} into {to_provider}")
    return _posting("treasury_funding", currency, [
        Leg(Account(AccountKind.PSP_CLEARING, to_provider), amount),
        Leg(Account(AccountKind.TREASURY), -amount),
    ])


def treasury_sweep(from_provider: str, currency: str, amount: int) -> Posting:
    """The PSP that collected the money pays it out to the platform's bank, giving back to
    the treasury what a top-up elsewhere advanced (the PSP's payout to the platform's own
    account). With its funding, the treasury nets to zero."""
    if amount <= 0:
        raise UnbalancedPosting(f"sweep {amount} out of {from_provider}")
    return _posting("treasury_sweep", currency, [
        Leg(Account(AccountKind.TREASURY), amount),
        Leg(Account(AccountKind.PSP_CLEARING, from_provider), -amount),
    ])


def give_back_captured(provider: str, currency: str, amount: int, psp_fee: int = 0) -> Posting:
    """The PSP captured money a payment must not keep: the PSP holds it less its processing
    fee (a cost of ours: the PSP keeps it when the money goes back), we owe it all back."""
    if not 0 <= psp_fee <= amount:
        raise UnbalancedPosting(f"PSP fee {psp_fee} outside 0..{amount}")
    return _posting("give_back_captured", currency, [
        Leg(Account(AccountKind.PSP_CLEARING, provider), amount - psp_fee),
        Leg(Account(AccountKind.PSP_FEES), psp_fee),
        Leg(Account(AccountKind.GIVE_BACK), -amount),
    ])


def give_back_refunded(provider: str, currency: str, amount: int) -> Posting:
    """That money went back to the buyer."""
    return _posting("give_back_refunded", currency, [
        Leg(Account(AccountKind.GIVE_BACK), amount),
        Leg(Account(AccountKind.PSP_CLEARING, provider), -amount),
    ])


# --- refunds and chargebacks (docs/money.md "Refunds and negative balances", docs/disputes.md) ----

@dataclass(frozen=True)
class LineShare:
    """One order line's part of a refund or a lost chargeback.

    `amount` is what leaves the line; `fee_returned` is the part of the platform's fee given
    back with it (the platform keeps no commission on money the buyer got back). `released`
    says where the line's money is: still in escrow, or already in the seller's balance —
    then the seller's part is clawed back from it (and may drive it below zero, see the
    policy) and the returned fee comes out of platform revenue.
    """

    seller_id: int
    amount: int
    fee_returned: int
    released: bool

    def __post_init__(self) -> None:
        if self.amount <= 0 or not 0 <= self.fee_returned <= self.amount:
            raise UnbalancedPosting(f"line share {self.amount} with fee {self.fee_returned}")


def _line_debits(shares: Iterable[LineShare], released_from: AccountKind) -> list[Leg]:
    legs: list[Leg] = []
    for share in shares:
        if share.released:
            # The platform fee was booked as revenue at release: return it from there.
            legs += [Leg(seller(released_from, share.seller_id), share.amount - share.fee_returned),
                     Leg(Account(AccountKind.PLATFORM_FEES), share.fee_returned)]
        else:
            # Still held: the fee was never revenue, so escrow gives back the whole amount.
            legs.append(Leg(seller(AccountKind.ESCROW, share.seller_id), share.amount))
    return legs


def refund(provider: str, currency: str, shares: list[LineShare]) -> Posting:
    """Money returned to the buyer through the PSP, taken from escrow or clawed back."""
    total = sum(s.amount for s in shares)
    return _posting("refund", currency, _line_debits(shares, AccountKind.SELLER_AVAILABLE)
                    + [Leg(Account(AccountKind.PSP_CLEARING, provider), -total)])


def refund_reversed(provider: str, currency: str, shares: list[LineShare]) -> Posting:
    """A refund the PSP later failed: the money is back, where each line's money now belongs."""
    legs = [Leg(leg.account, -leg.amount) for leg in refund(provider, currency, shares).legs]
    return _posting("refund_reversed", currency, legs)


def dispute_opened(provider: str, currency: str, amount: int, fee: int,
                   frozen: dict[int, int]) -> Posting:
    """The PSP withdrew a chargeback's amount and fee: reserve them; freeze released shares.

    `frozen` maps seller id → the net share (released lines only) moved from their available
    balance to reserved; lines still in escrow are frozen by their escrow status instead.
    """
    legs = [Leg(Account(AccountKind.DISPUTE_RESERVE, provider), amount + fee),
            Leg(Account(AccountKind.PSP_CLEARING, provider), -(amount + fee))]
    for sid, net in sorted(frozen.items()):
        legs += [Leg(seller(AccountKind.SELLER_AVAILABLE, sid), net),
                 Leg(seller(AccountKind.SELLER_RESERVED, sid), -net)]
    return _posting("dispute_opened", currency, legs)


def dispute_won(provider: str, currency: str, amount: int, fee: int, fee_returned_by_psp: bool,
                frozen: dict[int, int]) -> Posting:
    """The PSP gave the money back (and the fee, if it does): unreserve, unfreeze."""
    returned = amount + (fee if fee_returned_by_psp else 0)
    legs = [Leg(Account(AccountKind.PSP_CLEARING, provider), returned),
            Leg(Account(AccountKind.PSP_FEES), amount + fee - returned),
            Leg(Account(AccountKind.DISPUTE_RESERVE, provider), -(amount + fee))]
    for sid, net in sorted(frozen.items()):
        legs += [Leg(seller(AccountKind.SELLER_RESERVED, sid), net),
                 Leg(seller(AccountKind.SELLER_AVAILABLE, sid), -net)]
    return _posting("dispute_won", currency, legs)


def dispute_lost(provider: str, currency: str, amount: int, fee: int, liable: str,
                 shares: list[LineShare], frozen: dict[int, int]) -> Posting:
    """The buyer's bank kept the money: book it to the liable party; the PSP fee is ours.

    liable="seller": each line's share leaves escrow, or the seller's reserved balance (what
    `dispute_opened` froze) plus the returned platform fee. liable="platform": the platform
    bears the amount as a dispute loss and the sellers' frozen shares go back to available.
    """
    legs = [Leg(Account(AccountKind.PSP_FEES), fee),
            Leg(Account(AccountKind.DISPUTE_RESERVE, provider), -(amount + fee))]
    if liable == "seller":
        if sum(s.amount for s in shares) != amount:
            raise UnbalancedPosting(f"line shares {sum(s.amount for s in shares)} != {amount}")
        legs += _line_debits(shares, AccountKind.SELLER_RESERVED)
    elif liable == "platform":
        legs.append(Leg(Account(AccountKind.DISPUTE_LOSSES), amount))
        for sid, net in sorted(frozen.items()):
            legs += [Leg(seller(AccountKind.SELLER_RESERVED, sid), net),
                     Leg(seller(AccountKind.SELLER_AVAILABLE, sid), -net)]
    else:
        raise UnbalancedPosting(f"unknown liable party {liable!r}")
    return _posting("dispute_lost", currency, legs)


# --- Stripe Connect (docs/providers.md, "Stripe Connect") ------------------------------------

def transfer_reversed(seller_id: int, provider: str, currency: str, amount: int) -> Posting:
    """A clawback taken back from a seller's connected account by reversing a transfer: the
    money is in the platform's PSP balance again and the seller's negative balance shrinks."""
    if amount <= 0:
        raise UnbalancedPosting(f"transfer reversal of {amount}")
    return _posting("transfer_reversed", currency, [
        Leg(Account(AccountKind.PSP_CLEARING, provider), amount),
        Leg(seller(AccountKind.SELLER_AVAILABLE, seller_id), -amount),
    ])


# --- reconciliation with the PSPs' settlement data (docs/reconciliation.md) -------------------

def settled(provider: str, currency: str, net: int) -> Posting:
    """Report lines the ledger agrees with: their net (signed) leaves PSP clearing for the
    balance the PSP confirms. Zero for lines that cancel out (no legs, refused)."""
    return _posting("settlement", currency, [
        Leg(Account(AccountKind.PSP_BALANCE, provider), net),
        Leg(Account(AccountKind.PSP_CLEARING, provider), -net),
    ])


def psp_fee_corrected(provider: str, currency: str, difference: int) -> Posting:
    """The PSP charged `difference` more fee (negative: less) than we booked at capture."""
    return _posting("psp_fee_corrected", currency, [
        Leg(Account(AccountKind.PSP_FEES), difference),
        Leg(Account(AccountKind.PSP_CLEARING, provider), -difference),
    ])


def psp_adjustment(provider: str, currency: str, net: int) -> Posting:
    """Money the PSP moved on nothing of ours (an adjustment, a standalone fee): in or out of
    clearing, against PSP fees (a cost when negative, a credit when positive)."""
    return _posting("psp_adjustment", currency, [
        Leg(Account(AccountKind.PSP_CLEARING, provider), net),
        Leg(Account(AccountKind.PSP_FEES), -net),
    ])
