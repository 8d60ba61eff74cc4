"""What the PSPs charged, by provider and integration mode: the data for the admin's fee report
(the dashboard that shows it is built elsewhere). Read-only.

Each captured payment records the fee its PSP took (`psp_fee_amount`, from the PSP's own record
of the capture). The saving of a mode is what the same captured amounts would have cost on that
provider's dearest priced mode (hosted, as a rule) by the routing file's [fees] tables, less
what they did cost.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from app.extensions import db
from app.models import Payment
from app.providers import routing_file


@dataclass(frozen=True)
class FeeByMode:
    """One provider, mode and currency: how many captured payments, how much captured, the
    fees the PSP took, and the saving against the provider's dearest priced mode."""

    provider: str
    mode: str
    currency: str
    payments: int
    captured: int        # minor units
    fees: int            # minor units, as the PSP recorded them
    saving: int | None   # minor units; None when no fee is on file to compare with

    @property
    def effective_bps(self) -> int:
        """The fees as basis points of what was captured."""
        return (self.fees * 10_000 + self.captured // 2) // self.captured if self.captured else 0


def fees_by_mode(since: datetime | None = None) -> list[FeeByMode]:
    """Captured payments with a recorded fee, grouped by provider, mode and currency."""
    query = (select(Payment.provider, Payment.integration_mode, Payment.currency,
                    func.count(Payment.id), func.sum(Payment.amount_captured),
                    func.sum(Payment.psp_fee_amount))
             .where(Payment.psp_fee_amount.is_not(None), Payment.amount_captured > 0)
             .group_by(Payment.provider, Payment.integration_mode, Payment.currency)
             .order_by(Payment.provider, Payment.integration_mode, Payment.currency))
    if since is not None:
        query = query.where(Payment.created_at >= since)
    fees = routing_file.current().fees
    amounts = _captured_amounts(since)
    rows = []
    for provider, mode, currency, count, captured, charged in db.session.execute(query):
        rates = [rate for (name, _), rate in fees.items() if name == provider]
        saving = None
        if rates:
            dearest = sum(max(rate.cost(amount) for rate in rates)
                          for amount in amounts[(provider, mode, currency)])
            saving = dearest - int(charged)
        rows.append(FeeByMode(provider, mode, currency, int(count), int(captured),
                              int(charged), saving))
    return rows


def _captured_amounts(since: datetime | None) -> dict[tuple[str, str, str], list[int]]:
    """Each payment's captured amount by group (a fee's fixed part is per payment)."""
    query = select(Payment.provider, Payment.integration_mode, Payment.currency,
                   Payment.amount_captured).where(Payment.psp_fee_amount.is_not(None),
                                                  Payment.amount_captured > 0)
    if since is not None:
        query = query.where(Payment.created_at >= since)
    found: dict[tuple[str, str, str], list[int]] = {}
    for provider, mode, currency, amount in db.session.execute(query):
        found.setdefault((provider, mode, currency), []).append(amount)
    return found
