"""What each provider and integration mode costs, and the cheapest choice among them.

Framework-free. The routing file's `[fees.<provider>]` tables price each mode as the PSP's
contract does ("2.9% + 30": a percentage of the captured amount, rounded half up, plus a fixed
part in minor units of the payment's currency); a rule with `prefer = "cheapest"` tries its
providers cheapest first for the payment's mode, and the reason stored on the payment shows
the comparison.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from app.domain.money import CURRENCY_EXPONENTS, Money, format_money

MODES = ("hosted", "embedded", "fields")
MODE_NAMES = {"hosted": "hosted", "embedded": "embedded", "fields": "card fields"}
PREFERENCES = ("order", "cheapest")
_RATE = re.compile(r"\s*(\d{1,2}(?:\.\d{1,2})?)\s*%\s*(?:\+\s*(\d{1,6})\s*)?")


@dataclass(frozen=True)
class FeeRate:
    """A PSP's price for one mode: basis points of the amount plus a fixed part."""

    percent_bps: int
    fixed: int = 0

    def cost(self, amount: int) -> int:
        """The fee on `amount` minor units, percentage rounded half up (as the PSPs do)."""
        return (amount * self.percent_bps + 5_000) // 10_000 + self.fixed

    def describe(self, currency: str) -> str:
        """The rate in words: "1.4 % + 0.20"."""
        percent = f"{self.percent_bps / 100:.2f}".rstrip("0").rstrip(".")
        exponent = CURRENCY_EXPONENTS.get(currency, 2)
        fixed = f"{self.fixed / 10 ** exponent:.{exponent}f}" if exponent else str(self.fixed)
        return f"{percent} % + {fixed}"


def parse_rate(text) -> FeeRate | None:
    """"2.9% + 30" → FeeRate(290, 30); None when it is not such a rate."""
    match = _RATE.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        return None
    whole, _, frac = match.group(1).partition(".")
    return FeeRate(int(whole) * 100 + int((frac + "00")[:2]), int(match.group(2) or 0))


def parse_fees(raw, known_providers, problems: list[str]) -> dict[tuple[str, str], FeeRate]:
    """The `[fees]` table: {(provider, mode): FeeRate}; problems are appended, named."""
    fees: dict[tuple[str, str], FeeRate] = {}
    if raw is None:
        return fees
    if not isinstance(raw, dict):
        problems.append("fees: must be a table of [fees.<provider>] tables")
        return fees
    for provider, modes in raw.items():
        if provider not in known_providers:
            problems.append(f"fees.{provider}: unknown provider")
            continue
        if not isinstance(modes, dict):
            problems.append(f"fees.{provider}: must be a table of mode = \"x% + fixed\"")
            continue
        for mode, text in modes.items():
            rate = parse_rate(text)
            if mode not in MODES:
                problems.append(f"fees.{provider}.{mode}: not one of {', '.join(MODES)}")
            elif rate is None:
                problems.append(f"fees.{provider}.{mode}: {text!r} is not a rate like "
                                "\"2.9% + 30\" (fixed part in minor units)")
            else:
                fees[(provider, mode)] = rate
    return fees


def rule_costs(raw: dict, bad) -> tuple[tuple[str, ...], str]:
    """A rule's `modes` (default: all) and `prefer` ("order" or "cheapest"); `bad(field,
    message)` records a problem."""
    modes = raw.get("modes", list(MODES))
    if isinstance(modes, str):
        modes = [modes]
    if not isinstance(modes, list) or not modes or any(m not in MODES for m in modes):
        bad("modes", f"must list one or more of {', '.join(MODES)}")
        modes = []
    prefer = raw.get("prefer", "order")
    if prefer not in PREFERENCES:
        bad("prefer", f"must be one of {', '.join(PREFERENCES)}")
    return tuple(modes), prefer


def cheapest_first(providers: list[str], mode: str, amount: int,
                   fees: dict[tuple[str, str], FeeRate]) -> list[str]:
    """Providers by their fee for this mode and amount, cheapest first; unpriced ones keep
    their order after the priced (a stable sort, so ties keep the rule's order)."""
    def key(name):
        rate = fees.get((name, mode))
        return (0, rate.cost(amount)) if rate else (1, 0)
    return sorted(providers, key=key)


def comparison(chosen: str, mode: str, providers: list[str], modes: tuple[str, ...],
               money: Money, fees: dict[tuple[str, str], FeeRate]) -> str:
    """"sandbox card fields 1.4 % + 0.20 (€0.55) chosen over hosted 2.9 % + 0.30 (€1.03),
    sandbox_us 1.4 % + 0.20 (€0.55)": the chosen provider and mode against the chosen
    provider's other allowed modes and the other providers in the same mode (priced ones)."""
    def rate_text(name, m):
        rate = fees[(name, m)]
        cost = format_money(Money(rate.cost(money.amount), money.currency))
        return f"{rate.describe(money.currency)} ({cost})"

    if (chosen, mode) not in fees:
        return f"{chosen} {MODE_NAMES[mode]}: no fee on file"
    others = [f"{MODE_NAMES[m]} {rate_text(chosen, m)}" for m in modes
              if m != mode and (chosen, m) in fees]
    others += [f"{p} {rate_text(p, mode)}" for p in providers
               if p != chosen and (p, mode) in fees]
    text = f"{chosen} {MODE_NAMES[mode]} {rate_text(chosen, mode)} chosen"
    return text + (" over " + ", ".join(others) if others else "")
