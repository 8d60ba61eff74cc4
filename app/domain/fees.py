"""Platform fees and how a captured amount is split across order lines and sellers."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from app.domain.money import allocate, basis_points


@dataclass(frozen=True)
class FeeRule:
    """basis points of the amount plus a fixed amount, then kept between a minimum and an
    optional maximum (all in minor units of the order's currency)."""

    bps: int
    fixed: int = 0
    minimum: int = 0
    maximum: int | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.bps <= 10_000 or self.fixed < 0:
            raise ValueError("a fee rule takes 0–10000 bps and a non-negative fixed amount")
        if self.minimum < 0:
            raise ValueError("a fee rule's minimum cannot be negative")
        if self.maximum is not None and self.maximum < self.minimum:
            raise ValueError("a fee rule's maximum cannot be below its minimum")

    def describe(self, amount: Callable[[int], str] = str) -> str:
        """Short words for people and the audit log, e.g. "8.00 % + 30, min 50, max 2000"
        (`amount` formats the minor units, e.g. as "€0.30")."""
        text = f"{self.bps / 100:.2f} %"
        if self.fixed:
            text += f" + {amount(self.fixed)}"
        if self.minimum:
            text += f", min {amount(self.minimum)}"
        if self.maximum is not None:
            text += f", max {amount(self.maximum)}"
        return text


def platform_fee(amount: int, rule: FeeRule) -> int:
    """The fee on amount: bps rounded half up to a minor unit, plus fixed, clamped to the rule's
    minimum and maximum, and never negative nor more than the amount itself."""
    if amount <= 0:
        return 0
    fee = max(basis_points(amount, rule.bps) + rule.fixed, rule.minimum)
    if rule.maximum is not None:
        fee = min(fee, rule.maximum)
    return min(amount, fee)


def choose_rule(category: str | None, seller_rules: dict[str | None, FeeRule],
                default: FeeRule,
                category_rules: dict[str, FeeRule] | None = None) -> tuple[FeeRule, str]:
    """The rule in force and where it came from, most specific first: the seller's rule for
    the category, the seller's general rule, every seller's rule for the category, the
    platform default."""
    if category is not None and category in seller_rules:
        return seller_rules[category], f"seller+category:{category}"
    if None in seller_rules:
        return seller_rules[None], "seller"
    if category is not None and category_rules and category in category_rules:
        return category_rules[category], f"category:{category}"
    return default, "default"


def split_capture(captured: int, line_totals: list[int]) -> list[int]:
    """Share a (possibly partial) capture across lines in proportion; parts sum to captured."""
    if captured < 0 or sum(line_totals) <= 0 or captured > sum(line_totals):
        raise ValueError("captured must lie between 0 and the order total")
    return allocate(captured, line_totals)
