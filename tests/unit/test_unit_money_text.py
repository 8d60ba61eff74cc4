"""Amounts as people type and read them (app/money_text.py): babel, strict, exact."""
from __future__ import annotations

import pytest

from app.domain.money import Money, MoneyError
from app.money_text import format_amount, input_text, parse_amount


@pytest.mark.parametrize("text, currency, minor", [
    ("10.00", "EUR", 1000), ("10,00", "EUR", 1000), ("10,5", "EUR", 1050), ("10", "EUR", 1000),
    ("1,000", "EUR", 100000),        # English first: a comma before three digits groups
    ("1.234,50", "EUR", 123450),     # German grouping and decimal comma
    (" 7.25 ", "USD", 725), ("500", "JPY", 500), ("1.234", "BHD", 1234),
])
def test_amounts_parse_in_the_viewers_or_the_currencys_locale(text, currency, minor):
    assert parse_amount(text, currency) == Money(minor, currency)


@pytest.mark.parametrize("text, message", [
    ("", "Enter an amount"), ("ten", "is not an amount"), ("-5", "is not an amount"),
    ("10.001", "at most 2 decimal places"), ("0", "more than zero"), ("1e3", "is not an amount"),
])
def test_bad_amounts_are_refused_with_words_for_people(text, message):
    with pytest.raises(MoneyError, match=message):
        parse_amount(text, "EUR")


def test_formatting_follows_the_locale_and_stays_exact():
    assert format_amount(Money(123450, "EUR"), "en") == "€1,234.50"
    assert format_amount(Money(123450, "EUR"), "de_DE") == "1.234,50\u00a0€"
    assert format_amount(Money(-1234, "EUR"), "en") == "-€12.34"
    assert format_amount(Money(500, "JPY"), "en") == "¥500"
    # The largest amount we hold, less a cent: a float would round it on the way.
    assert format_amount(Money(10**15 - 1, "EUR"), "en") == "€9,999,999,999,999.99"


def test_an_amount_goes_back_into_a_field_as_it_would_be_typed():
    assert input_text(Money(123450, "EUR"), "de_DE") == "1234,50"
    assert input_text(Money(123450, "EUR"), "en") == "1234.50"
    assert input_text(Money(500, "JPY"), "en") == "500"
    assert parse_amount(input_text(Money(4800, "EUR"), "de_DE"), "EUR") == Money(4800, "EUR")
