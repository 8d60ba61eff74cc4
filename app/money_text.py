"""Money as people read and type it: formatted and parsed in the viewer's locale with babel.

Amounts live as integer minor units (app/domain/money.py); this is only their text. The one
money filter (app/templating.py) formats through `format_amount`, and every amount field a
person fills in is read through `parse_amount`, so "10,00" from a seller whose browser or
currency writes a decimal comma is ten euros, never a thousand.

The locale is negotiated from the browser's Accept-Language among the ones we support
(English when nothing matches). Parsing is strict (babel refuses "10,00" in English, where the
comma groups thousands), and falls back to the locale the currency is usually written in
(EUR: German conventions), so a seller on an English browser may still type "10,00".
"""
from __future__ import annotations

import re
from decimal import Decimal

from babel.numbers import NumberFormatError, format_currency, format_decimal, parse_decimal
from flask import has_request_context, request

from app.domain.money import Money, MoneyError, exponent, parse

SUPPORTED = ("en", "en_GB", "en_US", "de", "de_DE", "fr", "fr_FR", "nl", "nl_NL", "es", "es_ES",
             "it", "it_IT")
_OFFERED = [s.replace("_", "-") for s in SUPPORTED]
CURRENCY_LOCALES = {"EUR": "de_DE", "GBP": "en_GB", "USD": "en_US"}
_TYPED = re.compile(r"^[0-9][0-9.,' \u202f]*$")


def viewer_locale() -> str:
    """The request's best supported locale (hyphens as babel wants them), else English."""
    if not has_request_context():
        return "en"
    # Once per request: a page of 100 amounts negotiated Accept-Language 100 times, a third of
    # the money filter's cost (support's payment lists, docs/performance.md "Scale").
    found = request.environ.get("holdfast.locale")
    if found is None:
        best = request.accept_languages.best_match(_OFFERED)
        found = request.environ["holdfast.locale"] = best.replace("-", "_") if best else "en"
    return found


def format_amount(money: Money, locale: str | None = None) -> str:
    """"€1,234.50" in English, "1.234,50 €" in German; exact, never through a float."""
    value = Decimal(money.amount).scaleb(-exponent(money.currency))
    return format_currency(value, money.currency, locale=locale or viewer_locale())


def parse_amount(text: str | None, currency: str, *, allow_zero: bool = False) -> Money:
    """What a person typed, in their locale or the currency's, as exact minor units; raises
    MoneyError with a message meant for them."""
    cleaned = (text or "").strip().replace("\u00a0", " ")
    if not cleaned:
        raise MoneyError("Enter an amount.")
    # Digits and separators only: babel would also read "1e3" or "Infinity" as numbers.
    if not _TYPED.match(cleaned):
        cleaned = ""
    for locale in dict.fromkeys([viewer_locale(), CURRENCY_LOCALES.get(currency, "en")]
                                if cleaned else []):
        try:
            number = parse_decimal(cleaned, locale=locale, strict=True)
        except NumberFormatError:
            continue
        if number.is_nan() or number.is_infinite() or number < 0:
            break
        try:
            return parse(format(number, "f"), currency, allow_zero=allow_zero)
        except MoneyError as exc:
            raise MoneyError(_readable(exc, currency)) from None
    places = exponent(currency)
    example = "10" if places == 0 else "10." + "0" * places
    raise MoneyError(f"“{text}” is not an amount: write it like {example}"
                     + (f" or {example.replace('.', ',')}" if places else "") + ".")


def _readable(exc: MoneyError, currency: str) -> str:
    message = str(exc)
    if "decimal places" in message:
        return f"{currency} amounts have at most {exponent(currency)} decimal places."
    if "greater than zero" in message:
        return "The amount must be more than zero."
    return message


def input_text(money: Money, locale: str | None = None) -> str:
    """An amount as a person would type it back into a field: "24.00", "24,00" (no symbol,
    no grouping), so a prefilled field parses to exactly what it shows."""
    value = Decimal(money.amount).scaleb(-exponent(money.currency))
    places = exponent(money.currency)
    pattern = "0" + ("." + "0" * places if places else "")
    return format_decimal(value, format=pattern, locale=locale or viewer_locale(),
                          group_separator=False)
