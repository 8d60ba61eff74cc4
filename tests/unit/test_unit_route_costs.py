"""Fees per provider and mode in the routing file, the modes a rule allows, and the cheapest
route with its comparison in the stored reason."""
from __future__ import annotations

from pathlib import Path

import pytest

from app.domain.route_costs import FeeRate, parse_rate
from app.domain.routing import RouteContext, RoutingError, parse

KNOWN = {"sandbox", "sandbox_us", "stripe", "braintree"}
DEFAULT = Path(__file__).resolve().parents[2] / "app" / "providers" / "routing.default.toml"
FEES = """
[fees.sandbox]
hosted = "2.9% + 30"
fields = "1.4% + 20"
[fees.stripe]
fields = "1.5% + 25"
"""


def table(rules: str, fees: str = FEES):
    return parse("version = 1\n" + fees + rules, KNOWN)


@pytest.mark.parametrize("text, rate", [
    ("2.9% + 30", FeeRate(290, 30)), ("1.4 % + 20", FeeRate(140, 20)), ("3%", FeeRate(300, 0)),
    ("0.25% + 0", FeeRate(25, 0)),
])
def test_rates_are_read_exactly(text, rate):
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["2.9", "abc", "2.999% + 30", "-1% + 3", "2.9% + -30", 290])
def test_anything_else_is_not_a_rate(text):
    assert parse_rate(text) is None


def test_a_fee_rounds_half_up_and_reads_in_the_currency():
    assert FeeRate(140, 20).cost(2400) == 54  # 33.6 → 34, + 20
    assert FeeRate(290, 30).cost(2500) == 103  # 72.5 → 73, + 30
    assert FeeRate(140, 20).describe("EUR") == "1.4 % + 0.20"
    assert FeeRate(290, 30).describe("JPY") == "2.9 % + 30"


def test_bad_fee_tables_and_rule_modes_are_named():
    with pytest.raises(RoutingError) as caught:
        table('[[rule]]\nname = "d"\nproviders = ["sandbox"]\nmodes = ["fax"]\nprefer = "luck"\n',
              '[fees.nowhere]\nhosted = "1% + 1"\n[fees.sandbox]\nhosted = "cheap"\n'
              'teleport = "1%"\n')
    problems = " | ".join(caught.value.problems)
    for expected in ("fees.nowhere: unknown provider", "fees.sandbox.hosted: 'cheap'",
                     "fees.sandbox.teleport: not one of", "rule “d”: modes:",
                     "rule “d”: prefer:"):
        assert expected in problems


def test_cheapest_orders_providers_by_fee_and_the_reason_compares():
    routes = table('[[rule]]\nname = "d"\nproviders = ["sandbox", "stripe"]\n'
                   'prefer = "cheapest"\n')
    fields = routes.decide(RouteContext("EUR", 2400, mode="fields"))
    assert fields.providers == ("sandbox", "stripe")  # 0.54 < 0.61
    assert fields.reason.endswith("sandbox card fields 1.4 % + 0.20 (€0.54) chosen over "
                                  "hosted 2.9 % + 0.30 (€1.00), stripe 1.5 % + 0.25 (€0.61)")
    big = routes.decide(RouteContext("EUR", 10_000_000, mode="fields"))
    assert big.providers == ("sandbox", "stripe")
    # Without a fee for the mode, the rule's order stands and the reason says so.
    hosted = routes.decide(RouteContext("EUR", 2400, mode="hosted"))
    assert hosted.providers == ("sandbox", "stripe")


def test_cheapest_puts_the_cheaper_provider_first_even_when_listed_second():
    routes = table('[[rule]]\nname = "d"\nproviders = ["stripe", "sandbox"]\n'
                   'prefer = "cheapest"\n')
    decision = routes.decide(RouteContext("EUR", 2400, mode="fields"))
    assert decision.providers == ("sandbox", "stripe")
    assert "sandbox card fields 1.4 % + 0.20 (€0.54) chosen over" in decision.reason


def test_without_prefer_the_order_and_reason_stay_as_before():
    routes = table('[[rule]]\nname = "d"\nproviders = ["stripe", "sandbox"]\n')
    decision = routes.decide(RouteContext("EUR", 2400, mode="fields"))
    assert decision.providers == ("stripe", "sandbox") and "chosen" not in decision.reason
    assert decision.modes == ("hosted", "embedded", "fields")


def test_the_shipped_file_keeps_eu_cards_in_the_eu_and_card_fields_off_usd():
    shipped = parse(DEFAULT.read_text(), KNOWN)
    eu = shipped.decide(RouteContext("USD", 5900, "card", "DE", mode="fields"))
    assert eu.providers == ("sandbox",) and "fields" in eu.modes
    assert "sandbox card fields 1.4 % + 0.20 ($1.03) chosen over hosted" in eu.reason
    usd = shipped.decide(RouteContext("USD", 5900, "card", None, mode="hosted"))
    assert usd.providers[0] == "sandbox_us" and "fields" not in usd.modes
    # The shipped prices are the sandbox's own schedule (sandbox_psp/fees.py).
    from sandbox_psp.fees import SCHEDULES
    for mode in ("hosted", "embedded", "fields"):
        rate = shipped.fee("sandbox", mode)
        assert (rate.percent_bps, rate.fixed) == tuple(SCHEDULES[mode].values())
