"""Routing rules: matching, order, weighted draws seeded per payment, and validation errors."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from app.domain.routing import RouteContext, RoutingError, ordered, parse

KNOWN = frozenset({"sandbox", "sandbox_us", "stripe", "braintree"})
RULES = """
[[rule]]
name = "eu-cards"
tags = ["eu_card"]
providers = ["stripe"]

[[rule]]
name = "big-usd"
currency = ["USD"]
amount_min = 100000
providers = ["braintree", "stripe"]

[[rule]]
name = "usd"
currency = ["USD"]
method = ["card"]
providers = ["sandbox_us", "sandbox"]

[[rule]]
name = "gb-wallets"
country = ["GB"]
method = ["wallet"]
amount_max = 5000
providers = ["braintree"]

[[rule]]
name = "split"
currency = ["CHF"]
providers = [{name = "stripe", weight = 3}, {name = "braintree", weight = 1}]

[[rule]]
name = "default"
providers = ["sandbox"]
"""


@pytest.fixture
def table():
    return parse(RULES, KNOWN)


def ctx(currency="EUR", amount=2500, method="card", country=None, key="k1"):
    return RouteContext(currency, amount, method, country, key)


@pytest.mark.parametrize("context, rule, providers", [
    (ctx(country="DE"), "eu-cards", ("stripe",)),                       # tag derived from DE
    (ctx("USD", country="FR"), "eu-cards", ("stripe",)),                # first match wins
    (ctx("USD", 100000, country="US"), "big-usd", ("braintree", "stripe")),   # min inclusive
    (ctx("USD", 99999, country="US"), "usd", ("sandbox_us", "sandbox")),
    (ctx("USD", 500, method="wallet"), "default", ("sandbox",)),        # "usd" is cards only
    (ctx("GBP", 5000, "wallet", "GB"), "gb-wallets", ("braintree",)),   # max inclusive
    (ctx("GBP", 5001, "wallet", "GB"), "default", ("sandbox",)),
    (ctx("GBP", 100, "card", "GB"), "default", ("sandbox",)),           # GB is not EU
    (ctx("EUR", country=None), "default", ("sandbox",)),                # no country: no tag
    (ctx("EUR", method="wallet", country="DE"), "default", ("sandbox",)),  # eu_wallet ≠ eu_card
])
def test_first_matching_rule_decides(table, context, rule, providers):
    decision = table.decide(context)
    assert (decision.rule, decision.providers) == (rule, providers)
    assert f"rule “{rule}”" in decision.reason


def test_reason_says_what_matched(table):
    decision = table.decide(ctx("USD", 2500, country="US"))
    assert decision.reason == "rule “usd”: currency USD and method card → sandbox_us, sandbox"


def test_unavailable_providers_are_left_out_and_empty_rules_skipped(table):
    decision = table.decide(ctx("USD", 100000), available=frozenset({"sandbox", "stripe"}))
    assert (decision.rule, decision.providers) == ("big-usd", ("stripe",))
    decision = table.decide(ctx("USD", 2500), available=frozenset({"sandbox"}))
    assert (decision.rule, decision.providers) == ("usd", ("sandbox",))
    decision = table.decide(ctx(country="DE"), available=frozenset({"sandbox"}))
    assert decision.rule == "default"
    assert "skipped eu-cards: no configured provider" in decision.reason


def test_no_configured_provider_at_all_is_an_error(table):
    with pytest.raises(RoutingError, match="no rule with a configured provider"):
        table.decide(ctx(), available=frozenset({"nobody"}))


def test_weighted_order_is_fixed_per_payment_key(table):
    first = table.decide(ctx("CHF", key="hf_abc")).providers
    assert all(table.decide(ctx("CHF", key="hf_abc")).providers == first for _ in range(20))
    assert sorted(first) == ["braintree", "stripe"]  # the loser stays as the fallback
    assert "(weighted draw)" in table.decide(ctx("CHF", key="hf_abc")).reason


def test_weights_split_traffic_in_proportion(table):
    rule = next(r for r in table.rules if r.name == "split")
    firsts = Counter(ordered(rule, f"hf_{n}")[0] for n in range(4000))
    share = firsts["stripe"] / 4000
    assert 0.70 < share < 0.80  # weight 3 of 4


DUPLICATE_NAMES = """
[[rule]]
name = "x"
currency = ["EUR"]
providers = ["sandbox"]

[[rule]]
name = "x"
providers = ["sandbox"]
"""


@pytest.mark.parametrize("text, message", [
    ("not toml [", "not valid TOML"),
    ("version = 1", "no [[rule]] tables"),
    ('[[rule]]\nname = "a"\ncurrency = ["USD"]\nproviders = ["sandbox"]',
     "rule “a”: the last rule must be a default rule"),
    ('[[rule]]\nname = "d"\nproviders = ["sandbox"]\n[[rule]]\nname = "e"\nproviders = ["stripe"]',
     "rule “d”: has no conditions, so the rules after it can never match"),
    ('[[rule]]\nname = "x"\nproviders = ["paypal"]', "rule “x”: providers: unknown provider 'paypal'"),
    ('[[rule]]\nname = "x"\nproviders = []', "rule “x”: providers: required"),
    ('[[rule]]\nname = "x"\ncurrency = ["usd"]\nproviders = ["sandbox"]',
     "rule “x”: currency: 'usd' is not a 3-letter upper-case ISO code"),
    ('[[rule]]\nname = "x"\ncurrency = ["XYZ"]\nproviders = ["sandbox"]',
     "rule “x”: currency: XYZ is not a currency Holdfast accepts"),
    ('[[rule]]\nname = "x"\ncountry = ["DEU"]\nproviders = ["sandbox"]',
     "rule “x”: country: 'DEU' is not a 2-letter"),
    ('[[rule]]\nname = "x"\nmethod = ["cash"]\nproviders = ["sandbox"]',
     "rule “x”: method: 'cash' is not one of"),
    ('[[rule]]\nname = "x"\namount_min = -1\nproviders = ["sandbox"]',
     "rule “x”: amount_min: must be a whole number of minor units"),
    ('[[rule]]\nname = "x"\namount_max = 1.5\nproviders = ["sandbox"]',
     "rule “x”: amount_max: must be a whole number"),
    ('[[rule]]\nname = "x"\namount_min = 10\namount_max = 5\nproviders = ["sandbox"]',
     "rule “x”: amount_min: 10 is greater than amount_max 5"),
    ('[[rule]]\nname = "x"\nprovider = ["sandbox"]\nproviders = ["sandbox"]',
     "rule “x”: provider: unknown field"),
    ('[[rule]]\nproviders = ["sandbox"]', "rule #1: name: required"),
    ('[[rule]]\nname = "x"\nproviders = [{name = "stripe", weight = 2}, "sandbox"]',
     "rule “x”: providers: give every provider a weight, or none"),
    ('[[rule]]\nname = "x"\nproviders = [{name = "stripe", weight = 0}]',
     "rule “x”: providers: weight of stripe must be a whole number > 0"),
    ('[[rule]]\nname = "x"\nproviders = ["sandbox", "sandbox"]',
     "rule “x”: providers: a provider is listed twice"),
    (DUPLICATE_NAMES, "rule “x”: name: used by an earlier rule"),
    ('colour = "red"\n[[rule]]\nname = "x"\nproviders = ["sandbox"]',
     "unknown top-level key(s): colour"),
])
def test_validation_errors_name_the_rule_and_the_field(text, message):
    with pytest.raises(RoutingError) as caught:
        parse(text, KNOWN)
    assert any(message in problem for problem in caught.value.problems), caught.value.problems


def test_every_problem_is_reported_at_once():
    text = ('[[rule]]\nname = "a"\ncurrency = ["eur"]\nproviders = ["paypal"]\n'
            '[[rule]]\nname = "b"\nmethod = ["cash"]\nproviders = ["sandbox"]')
    with pytest.raises(RoutingError) as caught:
        parse(text, KNOWN)
    assert len(caught.value.problems) == 3


def test_the_shipped_default_file_is_valid():
    text = (Path(__file__).parents[3] / "app/providers/routing.default.toml").read_text()
    table = parse(text, KNOWN)
    assert table.decide(ctx("USD", country="US")).providers == ("sandbox_us", "sandbox")
    assert table.decide(ctx("USD", country="DE")).providers == ("sandbox",)  # EU card
    assert table.decide(ctx("EUR")).providers[0] == "sandbox"
    assert table.decide(ctx("GBP")).providers[0] == "sandbox"
    assert table.rules[-1].is_default
