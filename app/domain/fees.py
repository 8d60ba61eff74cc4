"""Platform fees and how a captured amount is split across order lines and sellers."""
from __future__ import annotations

from dataclasses import dataclass

from app.domain.money import allocate, basis_points


@dataclass(frozen=True)
class FeeRule:
    """basis points of the amount plus a fixed amount in minor units (per currency)."""

    bps: int
    fixed: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.bps <= 10_000 or self.fixed < 0:
            raise ValueError("a fee rule takes 0–10000 bps and a non-negative fixed amount")


def platform_fee(amount: int, rule: FeeRule) -> int:
    """The fee on amount: never negative, never more than the amount itself."""
    if amount <= 0:
        return 0
    return min(amount, basis_points(amount, rule.bps) + rule.fixed)


def choose_rule(category: str | None, seller_rules: dict[str | None, FeeRule],
                default: FeeRule) -> FeeRule:
    """A seller's rule for the category, else the seller's general rule, else the default."""
    if category is not None and category in seller_rules:
        return seller_rules[category]
    return seller_rules.get(None, default)


def split_capture(captured: int, line_totals: list[int]) -> list[int]:
    """Share a (possibly partial) capture across lines in proportion; parts sum to captured."""
    if captured < 0 or sum(line_totals) <= 0 or captured > sum(line_totals):
        raise ValueError("captured must lie between 0 and the order total")
    return allocate(captured, line_totals)
