"""Reconciliation: what a PSP's settlement data and our ledger each say about one PSP object,
and the kind of difference between them.

Both sides are reduced to one aggregate per (type, PSP reference) — the PSP's lines of a charge,
a refund, a payout…, and our ledger's transactions about the same object — so matching is a
join of two grouped sets, never a loop of queries. `classify` is the one total function that
names what a pair means; the service stores its answer.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from app.domain.transitions import check


class DifferenceKind(str, Enum):
    """Why a PSP object and our ledger disagree."""

    MISSING_OURS = "missing_ours"          # the PSP moved money on our object; we did not book it
    MISSING_PSP = "missing_psp"            # we booked a movement the PSP does not report
    DUPLICATED = "duplicated"              # the PSP reports one object's movement more than once
    AMOUNT_MISMATCH = "amount_mismatch"
    FEE_MISMATCH = "fee_mismatch"
    CURRENCY_MISMATCH = "currency_mismatch"
    UNKNOWN_OBJECT = "unknown_object"      # money moved on nothing of ours (an adjustment, a fee)
    IN_TRANSIT = "in_transit"              # booked by us, not yet in a report: timing, not error
    # The PSP's own control totals (Braintree's settlement batch summary) disagree with the
    # lines it reported: the report itself is incomplete or wrong.
    SUMMARY_MISMATCH = "summary_mismatch"

    def __str__(self) -> str:
        return self.value


LABELS = {
    DifferenceKind.MISSING_OURS: "Missing on our side",
    DifferenceKind.MISSING_PSP: "Missing at the PSP",
    DifferenceKind.DUPLICATED: "Duplicated",
    DifferenceKind.AMOUNT_MISMATCH: "Amount mismatch",
    DifferenceKind.FEE_MISMATCH: "Fee mismatch",
    DifferenceKind.CURRENCY_MISMATCH: "Currency mismatch",
    DifferenceKind.UNKNOWN_OBJECT: "Unknown object",
    DifferenceKind.IN_TRANSIT: "In transit",
    DifferenceKind.SUMMARY_MISMATCH: "PSP totals disagree with its lines",
}


class DifferenceStatus(str, Enum):
    """Open until a person resolves it, or a later import finds both sides agree."""

    OPEN = "open"
    RESOLVED = "resolved"      # a person decided (with a correcting posting or a reason)
    MATCHED = "matched"        # a later import or a correction made both sides agree

    def __str__(self) -> str:
        return self.value


D = DifferenceStatus
TRANSITIONS: dict[DifferenceStatus, frozenset[DifferenceStatus]] = {
    D.OPEN: frozenset({D.RESOLVED, D.MATCHED}),
    D.RESOLVED: frozenset(),
    D.MATCHED: frozenset(),
}


def transition(current: DifferenceStatus, target: DifferenceStatus) -> DifferenceStatus:
    """Return target if allowed, else raise ForbiddenMove naming both statuses."""
    return check("difference", TRANSITIONS, current, target)


# Types the PSP reports at most once per object; a second line is a duplicate.
ONCE_PER_OBJECT = frozenset({"charge", "refund", "refund_failure", "dispute", "dispute_reversal",
                             "payout", "payout_failure", "transfer_reversal"})
# Types whose object can be ours (a payment, refund, dispute or payout we know).
OURS_POSSIBLE = ONCE_PER_OBJECT


@dataclass(frozen=True)
class PspSide:
    """The PSP's lines of one object: how many, their sums, the currencies seen."""

    count: int
    gross: int
    fee: int
    net: int
    currencies: frozenset[str]


@dataclass(frozen=True)
class LedgerSide:
    """Our ledger's transactions about the same object: PSP clearing moved (net) and PSP fees
    booked, in the currencies seen."""

    net: int
    fee: int
    currencies: frozenset[str]


def classify(type_: str, psp: PspSide | None, ours: LedgerSide | None, *, known: bool,
             report_after_seen: bool) -> DifferenceKind | None:
    """The difference between the two sides of one object, or None when they agree.

    `known`: the object (or the payment it belongs to) is one of ours. `report_after_seen`:
    the PSP's report of a later day was imported, so an absent line is no longer timing.
    """
    if psp is None and ours is None:
        return None
    if psp is None:
        return DifferenceKind.MISSING_PSP if report_after_seen else DifferenceKind.IN_TRANSIT
    if ours is None:
        if type_ in OURS_POSSIBLE and known:
            return DifferenceKind.MISSING_OURS
        return DifferenceKind.UNKNOWN_OBJECT
    if psp.count > 1 and type_ in ONCE_PER_OBJECT:
        return DifferenceKind.DUPLICATED
    if len(psp.currencies | ours.currencies) > 1:
        return DifferenceKind.CURRENCY_MISMATCH
    if type_ == "charge":
        # Our capture books the gross as clearing + PSP fee: compare gross, then the fee.
        if psp.gross != ours.net + ours.fee:
            return DifferenceKind.AMOUNT_MISMATCH
        if psp.fee != ours.fee:
            return DifferenceKind.FEE_MISMATCH
        return None
    # Elsewhere the PSP's fee (a dispute's) is part of what left clearing: compare net.
    return None if psp.net == ours.net else DifferenceKind.AMOUNT_MISMATCH


# --- a payment's end (docs/architecture.md "A payment's life") -------------------------------

@dataclass(frozen=True)
class PaymentEnd:
    """What COMPLETED needs of a captured payment, as facts gathered by the service."""

    captured: bool            # its capture was booked
    settled: bool             # the PSP's charge line matched our capture (reconciliation)
    lines_open: int           # order lines still in escrow (neither released nor refunded)
    sellers_unpaid: int       # sellers of its released lines whose share is neither paid out
                              # nor netted (their available balance still holds money)
    open_differences: int     # unresolved reconciliation differences about the payment


def is_complete(end: PaymentEnd) -> bool:
    """COMPLETED: captured, settled by the PSP per the reconciliation, every line released or
    refunded, and each seller's share paid out or netted, with nothing left to reconcile."""
    return (end.captured and end.settled and end.lines_open == 0 and end.sellers_unpaid == 0
            and end.open_differences == 0)
