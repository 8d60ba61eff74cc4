"""VAT and sales tax: the rate for a buyer's country and an item's tax category, whether that
country shows prices with tax included, reverse charge for EU businesses, and the rates file.

Catalogue prices are what the seller receives (net of tax). The tax is added on top in the
buyer's country, so a seller's credit never depends on where the buyer lives; an EU buyer sees
the gross price (tax included, as EU law wants prices shown to consumers), a US buyer the net
price with the tax added at checkout.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from stdnum.eu import vat as eu_vat
from stdnum.exceptions import ValidationError

from app.domain.money import basis_points

CATEGORIES = ("standard", "reduced", "digital", "exempt")
CATEGORY_NAMES = {"standard": "Standard rate", "reduced": "Reduced rate",
                  "digital": "Digital services", "exempt": "Exempt"}
EU_COUNTRIES = frozenset(
    "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK".split())
# stdnum (and the VIES) write Greece as EL in VAT numbers.
_VAT_PREFIX = {"GR": "EL"}


class TaxError(ValueError):
    """A rate, a rates file or a VAT number that cannot be used."""


def prices_include_tax(country: str | None) -> bool:
    """EU consumers see prices with VAT included; elsewhere (US sales tax) it is added later."""
    return country in EU_COUNTRIES


@dataclass(frozen=True)
class TaxRate:
    """One row of the rates table: basis points for a country and a category."""

    country: str
    category: str
    bps: int

    def __post_init__(self) -> None:
        if len(self.country) != 2 or not self.country.isalpha() or not self.country.isupper():
            raise TaxError(f"country {self.country!r} is not a two-letter ISO code")
        if self.category not in CATEGORIES:
            raise TaxError(f"category {self.category!r} is not one of {', '.join(CATEGORIES)}")
        if not 0 <= self.bps <= 10_000:
            raise TaxError(f"rate for {self.country}/{self.category} outside 0–100 %")

    @property
    def percent(self) -> str:
        """The rate as people write it ("19", "5.5")."""
        return format(Decimal(self.bps) / 100, "f").rstrip("0").rstrip(".") or "0"


def rate_bps(rates: dict[tuple[str, str], int], country: str | None, category: str) -> int:
    """The rate for a sale; exempt is 0, digital falls back to the country's standard rate
    (EU digital services to consumers are taxed where the buyer lives), no country → 0."""
    if country is None or category == "exempt":
        return 0
    if (country, category) in rates:
        return rates[(country, category)]
    if category == "digital":
        return rates.get((country, "standard"), 0)
    return rates.get((country, category), rates.get((country, "standard"), 0))


def tax_on(net: int, bps: int) -> int:
    """The tax on a net amount, half up to the minor unit."""
    return basis_points(net, bps)


def parse_percent(text: str) -> int:
    """"19" or "5.5" (percent) → basis points, exactly (at most two decimals)."""
    try:
        value = Decimal(text.strip().rstrip("%").strip()) * 100
    except InvalidOperation:
        raise TaxError(f"{text!r} is not a percentage") from None
    if not value.is_finite() or value != value.to_integral_value():
        raise TaxError(f"{text!r}: a rate has at most two decimals")
    bps = int(value)
    if not 0 <= bps <= 10_000:
        raise TaxError(f"{text!r}: a rate lies between 0 and 100 %")
    return bps


def parse_rates_csv(text: str) -> list[TaxRate]:
    """A rates file: `country,category,rate` rows (rate in percent), a header line allowed.
    Errors name the line; a country/category given twice is refused."""
    rows: dict[tuple[str, str], TaxRate] = {}
    for number, fields in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not fields or not "".join(fields).strip() or fields[0].lstrip().startswith("#"):
            continue
        if number == 1 and fields[0].strip().lower() == "country":
            continue
        if len(fields) != 3:
            raise TaxError(f"line {number}: expected country,category,rate")
        try:
            rate = TaxRate(fields[0].strip().upper(), fields[1].strip().lower(),
                           parse_percent(fields[2]))
        except TaxError as exc:
            raise TaxError(f"line {number}: {exc}") from None
        if (rate.country, rate.category) in rows:
            raise TaxError(f"line {number}: {rate.country}/{rate.category} given twice")
        rows[(rate.country, rate.category)] = rate
    return list(rows.values())


def check_vat_number(text: str, country: str | None) -> str:
    """A buyer's EU VAT number, compacted, or TaxError: its format and check digits (stdnum,
    no network lookup) and that it belongs to the buyer's country."""
    if country not in EU_COUNTRIES:
        raise TaxError("A VAT number applies to a business in an EU country.")
    try:
        number = eu_vat.validate(text)
    except ValidationError:
        raise TaxError("That is not a valid EU VAT number (check the country prefix and "
                       "digits).") from None
    if not number.startswith(_VAT_PREFIX.get(country, country)):
        raise TaxError(f"That VAT number is not from the billing country ({country}).")
    return number


def reverse_charge(country: str | None, vat_number: str | None, seller_country: str) -> bool:
    """A cross-border sale to an EU business with a VAT number: the buyer accounts for VAT."""
    return bool(vat_number) and country in EU_COUNTRIES and country != seller_country
