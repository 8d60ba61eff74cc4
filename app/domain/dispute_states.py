"""The two kinds of dispute case and the moves allowed in each.

A **claim** is the buyer's complaint to the platform about one order line ("not received", "not as
described"). The seller answers it (accept → refund, or contest with evidence); either side may
escalate to support; a claim the seller leaves unanswered escalates by itself. Support may decide
at any point before the case is closed.

A **chargeback** is the buyer's bank disputing a payment at the PSP. Its life is the PSP's
(Stripe's): needs a response until its due date, under review once evidence is submitted, then
won or lost. The platform never moves it by itself: only the PSP's report does.
"""
from __future__ import annotations

from enum import Enum

from app.domain.transitions import check


class CaseKind(str, Enum):
    """What kind of dispute a case is."""

    CLAIM = "claim"
    CHARGEBACK = "chargeback"

    def __str__(self) -> str:
        return self.value


class ClaimStatus(str, Enum):
    """Where a buyer's claim stands."""

    OPEN = "open"              # waiting for the seller's answer
    CONTESTED = "contested"    # the seller disagreed, with a message and maybe evidence
    ESCALATED = "escalated"    # support decides
    RESOLVED = "resolved"      # a decision was applied (see the case's resolution)
    WITHDRAWN = "withdrawn"    # the buyer took the claim back

    def __str__(self) -> str:
        return self.value


class ClaimReason(str, Enum):
    """Why a buyer opens a claim."""

    NOT_RECEIVED = "not_received"
    NOT_AS_DESCRIBED = "not_as_described"

    def __str__(self) -> str:
        return self.value


class Resolution(str, Enum):
    """How a case ended."""

    REFUND_FULL = "refund_full"        # the buyer gets the line back in full
    REFUND_PARTIAL = "refund_partial"  # part back to the buyer; the line stays frozen until released
    RELEASE = "release"                # the seller keeps the money
    SPLIT = "split"                    # part back to the buyer, the rest released to the seller
    WITHDRAWN = "withdrawn"
    WON = "won"                        # chargeback: the bank gave the money back
    LOST = "lost"                      # chargeback: the bank kept it

    def __str__(self) -> str:
        return self.value


class ChargebackStatus(str, Enum):
    """A chargeback's status, as the PSP reports it."""

    NEEDS_RESPONSE = "needs_response"
    UNDER_REVIEW = "under_review"
    WON = "won"
    LOST = "lost"

    def __str__(self) -> str:
        return self.value


C = ClaimStatus
CLAIM_TRANSITIONS: dict[ClaimStatus, frozenset[ClaimStatus]] = {
    C.OPEN: frozenset({C.CONTESTED, C.ESCALATED, C.RESOLVED, C.WITHDRAWN}),
    C.CONTESTED: frozenset({C.ESCALATED, C.RESOLVED, C.WITHDRAWN}),
    C.ESCALATED: frozenset({C.RESOLVED, C.WITHDRAWN}),
    C.RESOLVED: frozenset(),
    C.WITHDRAWN: frozenset(),
}

B = ChargebackStatus
CHARGEBACK_TRANSITIONS: dict[ChargebackStatus, frozenset[ChargebackStatus]] = {
    B.NEEDS_RESPONSE: frozenset({B.UNDER_REVIEW, B.WON, B.LOST}),
    B.UNDER_REVIEW: frozenset({B.WON, B.LOST}),
    B.WON: frozenset(),
    B.LOST: frozenset(),
}

CLAIM_OPEN = frozenset(s for s, targets in CLAIM_TRANSITIONS.items() if targets)
CHARGEBACK_OPEN = frozenset(s for s, targets in CHARGEBACK_TRANSITIONS.items() if targets)


def claim_transition(current: ClaimStatus, target: ClaimStatus) -> ClaimStatus:
    """Return target if the claim may move there, else raise ForbiddenMove naming both."""
    return check("claim", CLAIM_TRANSITIONS, current, target)


def chargeback_transition(current: ChargebackStatus,
                          target: ChargebackStatus) -> ChargebackStatus:
    """Return target if the chargeback may move there, else raise ForbiddenMove naming both."""
    return check("chargeback", CHARGEBACK_TRANSITIONS, current, target)
