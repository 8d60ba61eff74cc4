"""Currency conversion, exact to the minor unit: reference rates in the ECB's format, the
buyer's (presentment) amount of a line priced in the seller's (settlement) currency, the
platform's FX margin, and converting a refund back at the order's frozen rate.

Rates are Decimals, never floats. A conversion is split into its two parts — the amount at the
mid (reference) rate and the platform's margin — that always sum to what the buyer pays, so the
ledger can post both and rounding never creates or loses a minor unit.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from app.domain.money import CURRENCY_EXPONENTS, exponent

ECB_NS = {"e": "http://www.ecb.int/vocabulary/2002-08-01/eurofxref"}
BASE = "EUR"  # the ECB quotes every rate as units of a currency per one euro


class FxError(ValueError):
    """Rates that cannot be read, or a conversion the rates cannot make."""


@dataclass(frozen=True)
class RateTable:
    """One day's reference rates: units of each currency per euro."""

    as_of: date
    per_eur: dict[str, Decimal]

    def rate(self, source: str, target: str) -> Decimal:
        """How many `target` one `source` buys at the mid rate (a cross rate through EUR)."""
        if source == target:
            return Decimal(1)
        try:
            return self.per_eur[target] / self.per_eur[source]
        except KeyError as exc:
            raise FxError(f"no reference rate for {exc.args[0]}") from None


def parse_ecb(xml_text: str | bytes) -> RateTable:
    """Read an eurofxref-daily.xml document (only the currencies Holdfast accepts are kept)."""
    if isinstance(xml_text, str):
        xml_text = xml_text.encode()
    try:
        # defusedxml: a rates file from a URL is untrusted (no DTDs, entities or bombs).
        root = fromstring(xml_text, forbid_dtd=True)
    except DefusedXmlException:
        raise FxError("a rates file must not declare a DOCTYPE or entities") from None
    except ParseError as exc:
        raise FxError(f"the rates file is not XML: {exc}") from None
    day = root.find(".//e:Cube/e:Cube[@time]", ECB_NS)
    if day is None:
        raise FxError("the rates file has no <Cube time=…> element")
    try:
        as_of = date.fromisoformat(day.get("time", ""))
    except ValueError:
        raise FxError(f"the rates file's date {day.get('time')!r} is not YYYY-MM-DD") from None
    rates: dict[str, Decimal] = {BASE: Decimal(1)}
    for cube in day.findall("e:Cube", ECB_NS):
        code, text = cube.get("currency", ""), cube.get("rate", "")
        if code not in CURRENCY_EXPONENTS:
            continue
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise FxError(f"rate {text!r} for {code} is not a number") from None
        if not value.is_finite() or value <= 0:
            raise FxError(f"rate {text!r} for {code} must be positive")
        rates[code] = value
    if len(rates) == 1:
        raise FxError("the rates file lists no currency Holdfast accepts")
    return RateTable(as_of, rates)


def _scale(source: str, target: str) -> Decimal:
    return Decimal(10) ** (exponent(target) - exponent(source))


def to_minor(amount: int, source: str, target: str, rate: Decimal) -> int:
    """`amount` minor units of source in minor units of target at `rate`, rounded half up."""
    exact = Decimal(amount) * rate * _scale(source, target)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def with_margin(mid: Decimal, margin_bps: int) -> Decimal:
    """The rate the buyer gets: the mid rate plus the platform's margin."""
    if not 0 <= margin_bps < 10_000:
        raise FxError("an FX margin is 0–9999 basis points")
    return mid * (Decimal(10_000 + margin_bps) / Decimal(10_000))


@dataclass(frozen=True)
class Conversion:
    """A settlement amount as the buyer pays it: at_mid + margin == presentment, exactly."""

    settlement: int
    presentment: int
    at_mid: int
    margin: int
    rate: Decimal  # the buyer's rate (mid + margin), as frozen on the order line


def convert(settlement: int, source: str, target: str, mid: Decimal,
            margin_bps: int) -> Conversion:
    """Convert a line's settlement amount into the presentment currency, margin split out."""
    if settlement < 0:
        raise FxError("convert a non-negative amount")
    if source == target:
        return Conversion(settlement, settlement, settlement, 0, Decimal(1))
    rate = with_margin(mid, margin_bps)
    presentment = to_minor(settlement, source, target, rate)
    at_mid = min(presentment, to_minor(settlement, source, target, mid))
    return Conversion(settlement, presentment, at_mid, presentment - at_mid, rate)


def back_share(part: int, done: int, whole: int, paid: int) -> int:
    """What a refund of `part` (settlement units) of a line returns in presentment units, when
    `done` of the line's `whole` was refunded before and the buyer paid `paid` for it all.

    Cumulative rounding at the order's frozen rate: the refunds of one line sum to exactly
    `paid` once all of `whole` went back, never more, however the line was cut.
    """
    if whole <= 0 or not (0 <= done and 0 <= part and done + part <= whole):
        raise FxError("a refund share must lie within the line")

    def upto(amount: int) -> int:
        return (paid * amount * 2 + whole) // (2 * whole)  # half up, exact integers

    return upto(done + part) - upto(done)


def at_frozen(amount: int, paid: int, settled: int) -> int:
    """What `amount` of a settlement currency cost in the presentment currency at the rate
    frozen on the orders that created the position: `paid` presentment units (at mid) bought
    `settled` settlement units. Half up, exact integers."""
    if amount < 0 or paid <= 0 or settled <= 0:
        raise FxError("a frozen rate needs positive amounts")
    return (amount * paid * 2 + settled) // (2 * settled)


def settled_for(sold: int, paid: int, settled: int) -> int:
    """The most settlement units `sold` presentment units buy at that frozen rate: the largest
    amount whose at_frozen cost does not exceed `sold`."""
    if sold < 0 or paid <= 0 or settled <= 0:
        raise FxError("a frozen rate needs positive amounts")
    # at_frozen(a) <= sold  ⇔  2·a·paid + settled < 2·settled·(sold + 1)  (floor of half up)
    return (2 * settled * sold + settled - 1) // (2 * paid)
