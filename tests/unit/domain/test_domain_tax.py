"""Tax rules: the rate for a country and category, price conventions, the rates file, and
VAT numbers checked with python-stdnum."""
from __future__ import annotations

import pytest

from app.domain.tax import (
    TaxError,
    TaxRate,
    check_vat_number,
    parse_percent,
    parse_rates_csv,
    prices_include_tax,
    rate_bps,
    reverse_charge,
    tax_on,
)

RATES = {("DE", "standard"): 1900, ("DE", "reduced"): 700, ("FR", "standard"): 2000,
         ("FR", "digital"): 2000, ("US", "standard"): 725}


@pytest.mark.parametrize("country, category, bps", [
    ("DE", "standard", 1900), ("DE", "reduced", 700),
    ("DE", "digital", 1900),      # digital services: the buyer's country's standard rate
    ("FR", "digital", 2000),
    ("DE", "exempt", 0),
    ("US", "reduced", 725),       # no reduced rate listed: the standard one
    ("JP", "standard", 0),        # a country with no rates: no tax
    (None, "standard", 0),        # no country known: no tax
])
def test_the_rate_for_a_sale(country, category, bps):
    assert rate_bps(RATES, country, category) == bps


def test_tax_is_rounded_half_up_to_the_minor_unit():
    assert tax_on(5519, 1900) == 1049   # 1048.61
    assert tax_on(250, 700) == 18       # 17.5 → 18
    assert tax_on(0, 1900) == 0


def test_eu_prices_include_tax_us_prices_do_not():
    assert prices_include_tax("DE") and prices_include_tax("FR")
    assert not prices_include_tax("US") and not prices_include_tax(None)


@pytest.mark.parametrize("text, bps", [("19", 1900), ("5.5", 550), ("7.25 %", 725), ("0", 0)])
def test_percent_to_basis_points_exactly(text, bps):
    assert parse_percent(text) == bps


@pytest.mark.parametrize("text", ["abc", "5.555", "101", "-1", "nan"])
def test_a_bad_percentage_is_refused(text):
    with pytest.raises(TaxError):
        parse_percent(text)


def test_a_rates_file_reads_with_header_and_comments():
    rows = parse_rates_csv("country,category,rate\n# comment\nDE,standard,19\nfr,Reduced,5.5\n")
    assert rows == [TaxRate("DE", "standard", 1900), TaxRate("FR", "reduced", 550)]
    assert rows[1].percent == "5.5"


@pytest.mark.parametrize("text, message", [
    ("DE,standard\n", "line 1: expected"),
    ("DE,standard,19\nDE,standard,7\n", "line 2: DE/standard given twice"),
    ("DE,luxury,30\n", "line 1: category"),
    ("DEU,standard,19\n", "line 1: country"),
])
def test_a_bad_rates_file_names_the_line(text, message):
    with pytest.raises(TaxError, match=message):
        parse_rates_csv(text)


def test_a_valid_vat_number_is_compacted():
    assert check_vat_number("de 136 695 976", "DE") == "DE136695976"


@pytest.mark.parametrize("number, country, message", [
    ("DE136695977", "DE", "not a valid"),        # wrong check digit
    ("DE136695976", "FR", "not from the billing country"),
    ("DE136695976", "US", "EU country"),
    ("hello", "DE", "not a valid"),
])
def test_a_vat_number_that_cannot_be_used_is_refused(number, country, message):
    with pytest.raises(TaxError, match=message):
        check_vat_number(number, country)


def test_reverse_charge_only_for_a_business_in_another_eu_country():
    assert reverse_charge("DE", "DE136695976", "NL")
    assert not reverse_charge("NL", "NL004495445B01", "NL")   # domestic: VAT charged
    assert not reverse_charge("DE", None, "NL")               # a consumer
    assert not reverse_charge("US", "X", "NL")
