"""Amounts the sandbox shows people (its dashboard): the currency's exponent, and the sign
apart from the digits, so money going out reads as what left."""
from __future__ import annotations

import pytest

from sandbox_psp.money import format_money


@pytest.mark.parametrize("amount, currency, shown", [
    (2500, "eur", "€25.00"), (-4320, "eur", "-€43.20"), (-5, "eur", "-€0.05"),
    (0, "eur", "€0.00"), (-1500, "jpy", "-¥1,500"), (-1234, "bhd", "-1.234 BHD"),
    (123456789, "usd", "$1,234,567.89"),
])
def test_amounts_read_as_they_are(amount, currency, shown):
    assert format_money(amount, currency) == shown
