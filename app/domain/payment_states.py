"""Payment statuses and the table of allowed moves between them.

Every status change in Holdfast goes through `transition()`. The table is data so that tests can
walk every allowed and every forbidden pair, and so a reader sees the whole life of a payment here.

Notes on the choices:
- DECLINED is not final: like a Stripe PaymentIntent falling back to `requires_payment_method`,
  the buyer may try another card on the same PSP session (DECLINED → AUTHORIZING/AUTHORIZED/…).
- UNKNOWN means "we timed out and don't know what the PSP did"; only the janitor's re-fetch moves
  it on, to whatever the PSP reports.
- FAILED, CANCELLED and EXPIRED are final. REFUNDED is final but for one correction: a refund
  the PSP fails after it had succeeded gives the money back (REFUNDED → PARTIALLY_REFUNDED or
  CAPTURED, PARTIALLY_REFUNDED → CAPTURED). Those reversal moves are not progress, so the
  reachability walk behind `is_behind` does not follow them.
"""
from __future__ import annotations

from enum import Enum

from app.domain.transitions import check


class PaymentStatus(str, Enum):
    """Where a payment stands, from the platform's point of view."""

    INITIATED = "initiated"              # our row exists; the PSP has not been asked yet
    PROCESSING = "processing"            # the PSP session exists; the buyer is paying
    AUTHORIZING = "authorizing"          # a card was submitted; the PSP has not answered
    REQUIRES_ACTION = "requires_action"  # 3-D Secure challenge pending
    AUTHORIZED = "authorized"
    # Captured per shipment (multicapture): part is captured, the rest is still authorized
    # and is captured as its lines ship, or voided (the payment then ends CAPTURED).
    PARTIALLY_CAPTURED = "partially_captured"
    CAPTURED = "captured"
    COMPLETED = "completed"              # captured and settled with the sellers
    DECLINED = "declined"                # last attempt declined; another card may be tried
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    DISPUTED = "disputed"
    UNKNOWN = "unknown"

    def __str__(self) -> str:
        return self.value


S = PaymentStatus

# Statuses from which the buyer's payment attempt can still produce an authorization.
_ATTEMPTING = frozenset({S.AUTHORIZING, S.REQUIRES_ACTION, S.AUTHORIZED, S.CAPTURED,
                         S.DECLINED, S.FAILED})

TRANSITIONS: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    S.INITIATED: frozenset({S.PROCESSING, S.FAILED, S.CANCELLED, S.EXPIRED, S.UNKNOWN}),
    S.PROCESSING: _ATTEMPTING | {S.CANCELLED, S.EXPIRED, S.UNKNOWN},
    S.AUTHORIZING: frozenset({S.REQUIRES_ACTION, S.AUTHORIZED, S.CAPTURED, S.DECLINED,
                              S.FAILED, S.UNKNOWN}),
    S.REQUIRES_ACTION: frozenset({S.AUTHORIZING, S.AUTHORIZED, S.CAPTURED, S.DECLINED,
                                  S.FAILED, S.CANCELLED, S.EXPIRED}),
    # Another card may be declined too, so DECLINED → DECLINED records the new reason.
    S.DECLINED: _ATTEMPTING | {S.CANCELLED, S.EXPIRED},
    S.AUTHORIZED: frozenset({S.PARTIALLY_CAPTURED, S.CAPTURED, S.CANCELLED, S.EXPIRED,
                             S.UNKNOWN}),
    # Another partial capture records itself (→ itself); the final one, or a void of the
    # rest, ends at CAPTURED. A refund of a captured line or a chargeback may come first.
    S.PARTIALLY_CAPTURED: frozenset({S.PARTIALLY_CAPTURED, S.CAPTURED, S.PARTIALLY_REFUNDED,
                                     S.REFUNDED, S.DISPUTED}),
    S.CAPTURED: frozenset({S.COMPLETED, S.PARTIALLY_REFUNDED, S.REFUNDED, S.DISPUTED}),
    S.COMPLETED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED, S.DISPUTED}),
    S.PARTIALLY_REFUNDED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED, S.DISPUTED,
                                     S.COMPLETED, S.CAPTURED}),
    # A won dispute returns to where the money was; a lost one ends as refunded.
    S.DISPUTED: frozenset({S.CAPTURED, S.PARTIALLY_CAPTURED, S.COMPLETED, S.PARTIALLY_REFUNDED,
                           S.REFUNDED}),
    S.UNKNOWN: frozenset({S.PROCESSING, S.REQUIRES_ACTION, S.AUTHORIZED, S.CAPTURED,
                          S.DECLINED, S.FAILED, S.CANCELLED, S.EXPIRED}),
    S.FAILED: frozenset(),
    S.CANCELLED: frozenset(),
    S.EXPIRED: frozenset(),
    S.REFUNDED: frozenset({S.PARTIALLY_REFUNDED, S.CAPTURED}),
}

# A late refund failure undoes a refund: allowed, but never "the payment moving on".
REVERSALS = frozenset({(S.REFUNDED, S.PARTIALLY_REFUNDED), (S.REFUNDED, S.CAPTURED),
                       (S.PARTIALLY_REFUNDED, S.CAPTURED)})

FINAL = frozenset(s for s, targets in TRANSITIONS.items()
                  if not targets - {t for c, t in REVERSALS if c == s})

# The buyer has paid: the money is authorized or beyond.
PAID = frozenset({S.AUTHORIZED, S.PARTIALLY_CAPTURED, S.CAPTURED, S.COMPLETED,
                  S.PARTIALLY_REFUNDED, S.REFUNDED, S.DISPUTED})

# The buyer's checkout is still open: the status page keeps polling.
PENDING = frozenset({S.INITIATED, S.PROCESSING, S.AUTHORIZING, S.REQUIRES_ACTION, S.UNKNOWN})

# Stock reserved for the order goes back on the shelf.
RELEASES_STOCK = frozenset({S.FAILED, S.CANCELLED, S.EXPIRED})


def _reachable(start: PaymentStatus) -> frozenset[PaymentStatus]:
    """Every status a payment in `start` can still reach through the table.

    The walk does not pass through UNKNOWN: "we don't know" is a detour, not progress, and
    through it almost everything would reach almost everything. Nor does it follow REVERSALS.
    """
    seen: set[PaymentStatus] = set()
    frontier = [start]
    while frontier:
        current = frontier.pop()
        for target in TRANSITIONS[current]:
            if (current, target) in REVERSALS:
                continue
            if target not in seen:
                seen.add(target)
                if target != PaymentStatus.UNKNOWN:
                    frontier.append(target)
    return frozenset(seen)


# REACHABLE[s]: where a payment in s may go next, however many steps away.
REACHABLE = {status: _reachable(status) for status in PaymentStatus}


def can_transition(current: PaymentStatus, target: PaymentStatus) -> bool:
    """True when the table allows current → target."""
    return target in TRANSITIONS[current]


def transition(current: PaymentStatus, target: PaymentStatus) -> PaymentStatus:
    """Return target if current → target is allowed, else raise ForbiddenMove naming both."""
    return check("payment", TRANSITIONS, current, target)


def is_behind(current: PaymentStatus, reported: PaymentStatus) -> bool:
    """True when a PSP report describes a state this payment has already moved past.

    Webhooks arrive late and out of order; such a report is stale and is ignored, whereas a
    report that is neither allowed nor behind is a real inconsistency that needs review.
    "Behind" means the payment could have passed through the reported status on its way here:
    "authorized" after "captured" is stale, but "captured" after "cancelled" is not — that is
    money taken on a payment we gave up, and a person must look at it.
    """
    return reported == current or current in REACHABLE[reported]
