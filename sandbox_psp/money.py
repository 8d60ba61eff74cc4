"""Amounts in minor units shown to people, e.g. 2500 eur -> "€25.00"."""

# ISO 4217 exponents other than 2 (Stripe's zero- and three-decimal lists).
_EXPONENTS = {**dict.fromkeys(["bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg",
                               "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"], 0),
              **dict.fromkeys(["bhd", "jod", "kwd", "omr", "tnd"], 3)}
_SYMBOLS = {"eur": "€", "usd": "$", "gbp": "£", "jpy": "¥", "chf": "CHF "}


def format_money(amount: int, currency: str) -> str:
    """A human-readable amount with the currency's symbol or code."""
    exponent = _EXPONENTS.get(currency, 2)
    # The sign apart: divmod floors, so -4320 would read "-44.80" instead of "-43.20".
    sign = "-" if amount < 0 else ""
    major, minor = divmod(abs(amount), 10 ** exponent)
    units = f"{major:,}.{minor:0{exponent}d}" if exponent else f"{major:,}"
    symbol = _SYMBOLS.get(currency)
    return f"{sign}{symbol}{units}" if symbol else f"{sign}{units} {currency.upper()}"
