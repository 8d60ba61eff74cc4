"""Money as integer minor units of an ISO 4217 currency, with exact parsing and splitting.

Floats never appear here: amounts are ints, text is parsed digit by digit, and splits hand out
remainders so that the parts always add up to the whole.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

# ISO 4217 minor-unit exponents for the currencies Holdfast accepts.
CURRENCY_EXPONENTS: dict[str, int] = {
    "EUR": 2, "USD": 2, "GBP": 2, "CHF": 2, "SEK": 2, "NOK": 2, "DKK": 2, "PLN": 2, "CZK": 2,
    "CAD": 2, "AUD": 2, "NZD": 2, "SGD": 2, "HKD": 2, "MXN": 2, "BRL": 2, "INR": 2,
    "JPY": 0, "KRW": 0, "CLP": 0, "ISK": 0, "VND": 0,
    "BHD": 3, "KWD": 3, "JOD": 3, "OMR": 3, "TND": 3,
}

CURRENCY_SYMBOLS: dict[str, str] = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥"}

# Largest amount we accept in minor units: fits a signed 64-bit column with room for sums.
MAX_AMOUNT = 10**15

# ASCII only: a Unicode \d would read "١٢" or "１２" as a price.
_DECIMAL_TEXT = re.compile(r"^(\d+)(?:\.(\d+))?$", re.ASCII)


class MoneyError(ValueError):
    """A money value or operation that cannot be exact."""


class UnknownCurrency(MoneyError):
    """A currency code that is not in the table above."""


class CurrencyMismatch(MoneyError):
    """Arithmetic across two currencies."""


def exponent(currency: str) -> int:
    """Number of decimal places of the currency's minor unit."""
    try:
        return CURRENCY_EXPONENTS[currency]
    except KeyError:
        raise UnknownCurrency(f"unknown currency {currency!r}") from None


def _check_amount(amount: object) -> int:
    # bool is an int subclass; True pounds is a bug, not a price.
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise MoneyError(f"amount must be an integer of minor units, got {amount!r}")
    if abs(amount) > MAX_AMOUNT:
        raise MoneyError("amount is out of range")
    return amount


@dataclass(frozen=True, order=False)
class Money:
    """An exact amount: integer minor units plus an ISO 4217 code."""

    amount: int
    currency: str

    def __post_init__(self) -> None:
        _check_amount(self.amount)
        exponent(self.currency)

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatch(f"{self.currency} and {other.currency} do not mix")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    def times(self, quantity: int) -> Money:
        """The amount multiplied by a whole quantity."""
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            raise MoneyError("quantity must be an integer")
        return Money(self.amount * quantity, self.currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        """Nothing, in the given currency."""
        return cls(0, currency)


def parse(text: str, currency: str, *, allow_zero: bool = False) -> Money:
    """Parse a decimal string such as "12.50" into exact minor units; refuse anything inexact."""
    places = exponent(currency)
    cleaned = (text or "").strip()
    match = _DECIMAL_TEXT.match(cleaned)
    if not match:
        raise MoneyError(f"{text!r} is not an amount: use digits and at most one decimal point")
    whole, fraction = match.group(1), match.group(2) or ""
    if len(fraction) > places:
        raise MoneyError(f"{currency} has {places} decimal places; {text!r} has {len(fraction)}")
    amount = int(whole) * 10**places + int(fraction.ljust(places, "0") or "0")
    if amount == 0 and not allow_zero:
        raise MoneyError("amount must be greater than zero")
    return Money(_check_amount(amount), currency)


def to_decimal_string(money: Money) -> str:
    """Minor units as a plain decimal string: 1234 EUR → "12.34", 500 JPY → "500"."""
    places = exponent(money.currency)
    sign = "-" if money.amount < 0 else ""
    digits = str(abs(money.amount))
    if places == 0:
        return sign + digits
    digits = digits.rjust(places + 1, "0")
    return f"{sign}{digits[:-places]}.{digits[-places:]}"


def format_money(money: Money) -> str:
    """Human display: "€12.34", "$5.00", "1.234 BHD"."""
    text = to_decimal_string(money)
    symbol = CURRENCY_SYMBOLS.get(money.currency)
    if symbol:
        return f"-{symbol}{text[1:]}" if text.startswith("-") else f"{symbol}{text}"
    return f"{text} {money.currency}"


def allocate(total: int, weights: list[int]) -> list[int]:
    """Split `total` in proportion to `weights` (largest remainder); parts always sum to total."""
    _check_amount(total)
    if not weights or any(isinstance(w, bool) or not isinstance(w, int) or w < 0 for w in weights):
        raise MoneyError("weights must be non-negative integers")
    weight_sum = sum(weights)
    if weight_sum == 0:
        raise MoneyError("weights must not all be zero")
    sign = -1 if total < 0 else 1
    magnitude = abs(total)
    parts = [magnitude * w // weight_sum for w in weights]
    remainders = [magnitude * w % weight_sum for w in weights]
    # Hand the leftover units to the largest remainders; ties go to the earlier part.
    order = sorted(range(len(weights)), key=lambda i: (-remainders[i], i))
    for i in order[: magnitude - sum(parts)]:
        parts[i] += 1
    return [sign * p for p in parts]


def basis_points(amount: int, bps: int) -> int:
    """amount × bps / 10 000, rounded half up (away from zero) to a whole minor unit."""
    _check_amount(amount)
    sign = -1 if amount < 0 else 1
    return sign * ((abs(amount) * bps * 2 + 10_000) // 20_000)
