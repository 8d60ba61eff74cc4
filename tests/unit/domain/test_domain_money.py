"""Money: exact parsing, display, proportional splits and fee rounding."""
from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.money import (
    CURRENCY_EXPONENTS,
    MAX_AMOUNT,
    CurrencyMismatch,
    Money,
    MoneyError,
    UnknownCurrency,
    allocate,
    basis_points,
    format_money,
    parse,
    to_decimal_string,
)


@pytest.mark.parametrize(("text", "currency", "minor"), [
    ("12.50", "EUR", 1250),
    ("12.5", "EUR", 1250),
    ("12", "EUR", 1200),
    ("0.01", "USD", 1),
    (" 24.00 ", "EUR", 2400),
    ("500", "JPY", 500),
    ("1.234", "BHD", 1234),
    ("1.2", "BHD", 1200),
    ("0.001", "KWD", 1),
    ("10000000000000", "JPY", 10**13),
])
def test_parse_reads_exact_minor_units(text, currency, minor):
    assert parse(text, currency) == Money(minor, currency)


@pytest.mark.parametrize(("text", "currency"), [
    ("1e3", "EUR"), ("-1", "EUR"), ("+1", "EUR"), ("1.234", "EUR"), ("1.5", "JPY"),
    ("1.2345", "BHD"), ("1,50", "EUR"), ("", "EUR"), (".5", "EUR"), ("5.", "EUR"),
    ("1.2.3", "EUR"), ("NaN", "EUR"), ("inf", "EUR"), ("0x10", "EUR"), ("١٢", "EUR"),
    ("0", "EUR"), ("0.00", "EUR"),
])
def test_parse_refuses_inexact_or_odd_text(text, currency):
    with pytest.raises(MoneyError):
        parse(text, currency)


def test_parse_allows_zero_only_when_asked():
    assert parse("0.00", "EUR", allow_zero=True) == Money(0, "EUR")


def test_parse_refuses_amounts_beyond_the_column_range():
    with pytest.raises(MoneyError):
        parse(str(MAX_AMOUNT + 1), "JPY")


def test_parse_refuses_unknown_currency():
    with pytest.raises(UnknownCurrency):
        parse("1.00", "XXX")


@pytest.mark.parametrize("amount", [1.5, 10.0, True, False, "100", Decimal("1"), None])
def test_money_refuses_non_integer_amounts(amount):
    with pytest.raises(MoneyError):
        Money(amount, "EUR")


@pytest.mark.parametrize("text", [1.5, 10.0, True])
def test_parse_refuses_non_text(text):
    with pytest.raises((MoneyError, TypeError, AttributeError)):
        parse(text, "EUR")


@pytest.mark.parametrize(("money", "shown"), [
    (Money(1234, "EUR"), "€12.34"),
    (Money(500, "USD"), "$5.00"),
    (Money(5, "GBP"), "£0.05"),
    (Money(500, "JPY"), "¥500"),
    (Money(1234, "BHD"), "1.234 BHD"),
    (Money(1, "KWD"), "0.001 KWD"),
    (Money(-1234, "EUR"), "-€12.34"),
    (Money(0, "CHF"), "0.00 CHF"),
])
def test_format_money(money, shown):
    assert format_money(money) == shown


@given(st.sampled_from(sorted(CURRENCY_EXPONENTS)), st.integers(1, MAX_AMOUNT))
def test_decimal_string_round_trips_through_parse(currency, amount):
    money = Money(amount, currency)
    assert parse(to_decimal_string(money), currency) == money


def test_arithmetic_refuses_mixed_currencies():
    with pytest.raises(CurrencyMismatch, match="EUR and USD"):
        Money(100, "EUR") + Money(100, "USD")
    with pytest.raises(CurrencyMismatch):
        Money(100, "EUR") - Money(1, "JPY")
    with pytest.raises(CurrencyMismatch):
        Money(100, "EUR") < Money(1, "GBP")  # noqa: B015


def test_arithmetic_in_one_currency():
    assert Money(250, "EUR") + Money(50, "EUR") == Money(300, "EUR")
    assert Money(250, "EUR") - Money(300, "EUR") == Money(-50, "EUR")
    assert Money(250, "EUR").times(3) == Money(750, "EUR")
    assert Money(1, "EUR") < Money(2, "EUR") <= Money(2, "EUR")
    with pytest.raises(MoneyError):
        Money(1, "EUR").times(1.5)


# -- allocate ---------------------------------------------------------------------------------

weights = st.lists(st.integers(0, 10**6), min_size=1, max_size=12).filter(any)
# Totals as amounts of currencies with 0, 2 and 3 decimal places.
totals = st.tuples(st.sampled_from(["JPY", "EUR", "BHD"]), st.integers(-10**12, 10**12))


@given(totals, weights)
def test_allocate_parts_sum_to_total_and_stay_within_one_unit(total, ws):
    currency, amount = total
    Money(amount, currency)  # a valid amount of that currency
    parts = allocate(amount, ws)
    assert sum(parts) == amount
    assert len(parts) == len(ws)
    for part, weight in zip(parts, ws):
        exact = Fraction(amount * weight, sum(ws))
        assert abs(part - exact) < 1


@given(st.integers(0, 10**12), weights)
def test_allocate_zero_weight_gets_nothing(amount, ws):
    parts = allocate(amount, ws + [0])
    assert parts[-1] == 0


def test_allocate_hands_remainders_to_largest_share_then_earliest():
    assert allocate(100, [1, 1, 1]) == [34, 33, 33]
    assert allocate(-100, [1, 1, 1]) == [-34, -33, -33]
    assert allocate(5, [1, 2]) == [2, 3]
    assert allocate(1, [1, 1]) == [1, 0]


@pytest.mark.parametrize("ws", [[], [0, 0], [-1, 2], [1.5, 1], [True, 1]])
def test_allocate_refuses_bad_weights(ws):
    with pytest.raises(MoneyError):
        allocate(100, ws)


def test_allocate_refuses_non_integer_total():
    with pytest.raises(MoneyError):
        allocate(10.0, [1, 1])


# -- basis points -----------------------------------------------------------------------------

@pytest.mark.parametrize(("amount", "bps", "fee"), [
    (10_000, 290, 290),
    (50, 100, 1),     # 0.5 rounds half up
    (49, 100, 0),     # 0.49 rounds down
    (150, 100, 2),    # 1.5 → 2
    (-50, 100, -1),   # half away from zero
    (-49, 100, 0),
    (6490, 290, 188),  # 188.21
    (0, 290, 0),
])
def test_basis_points_round_half_up(amount, bps, fee):
    assert basis_points(amount, bps) == fee


@given(st.integers(-MAX_AMOUNT, MAX_AMOUNT), st.integers(0, 10_000))
def test_basis_points_matches_decimal_half_up(amount, bps):
    expected = (Decimal(amount) * bps / 10_000).quantize(Decimal(1), rounding="ROUND_HALF_UP")
    assert basis_points(amount, bps) == int(expected)
