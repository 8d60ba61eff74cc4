"""Fraud rules: each kind of condition, the decision table, and the rules file's validation
errors with their line and column."""
from __future__ import annotations

import pytest

from app.domain.fraud import (
    Action,
    Stage,
    Thresholds,
    Window,
    decide_action,
    velocity_window,
)
from app.domain.fraud_file import FraudRulesError, parse
from app.services.fraud.rules_file import DEFAULT_FILE

B, V = Stage.BEFORE_PSP, Stage.PSP_VERDICT


def one_rule(body: str, thresholds: str = "") -> str:
    return f"{thresholds}\n[[rule]]\nname = \"r\"\n{body}\n"


def fires(body: str, signals: dict, currency: str = "EUR", stage: Stage = B) -> bool:
    return parse(one_rule(body + "\nscore = 1")).evaluate(signals, currency, stage).score == 1


@pytest.mark.parametrize("body, signals, expected", [
    ('signal = "amount"\nat_least = 100', {"amount": 100}, True),
    ('signal = "amount"\nat_least = 100', {"amount": 99}, False),
    ('signal = "account_age_days"\nat_most = 1.0', {"account_age_days": 0.5}, True),
    ('signal = "account_age_days"\nat_most = 1.0', {"account_age_days": 3.0}, False),
    ('signal = "first_purchase"\nequals = true', {"first_purchase": True}, True),
    ('signal = "first_purchase"\nequals = true', {"first_purchase": False}, False),
    ('signal = "ip_country"\none_of = ["RU", "KP"]', {"ip_country": "KP"}, True),
    ('signal = "ip_country"\none_of = ["RU", "KP"]', {"ip_country": "FR"}, False),
    ('signal = "psp_risk"\nequals = "elevated"', {"psp_risk": "elevated"}, True),
    ('signal = "declines_per_ip_10m"\nat_least = 3', {"declines_per_ip_10m": 3}, True),
    ('signal = "declines_per_ip_10m"\nat_least = 3', {"declines_per_ip_10m": 2}, False),
    ('signal = "cards_per_device_1h"\nat_least = 2', {"cards_per_device_1h": 4}, True),
    # A signal not known at this stage (None or absent) never matches.
    ('signal = "card_country"\nequals = "US"', {"card_country": None}, False),
    ('signal = "ip_billing_mismatch"\nequals = true', {}, False),
])
def test_each_comparison(body, signals, expected):
    assert fires(body, signals) is expected


def test_currency_stage_and_amount_filters_limit_a_rule():
    body = ('signal = "seller_paid_sales"\nat_most = 2\namount_at_least = 50000\n'
            'currency = "EUR"\nstage = "psp_verdict"')
    signals = {"seller_paid_sales": 0, "amount": 50000}
    assert fires(body, signals, "EUR", V)
    assert not fires(body, signals, "USD", V)                      # other currency
    assert not fires(body, signals, "EUR", B)                      # other stage
    assert not fires(body, {**signals, "amount": 49999}, "EUR", V)  # below the amount


def test_scores_add_up_in_order_with_their_reasons():
    rules = parse("""
[thresholds]
require_3ds = 10
review = 20
block = 30
[[rule]]
name = "a"
signal = "first_purchase"
equals = true
score = 12
reason = "first"
[[rule]]
name = "b"
signal = "amount"
at_least = 1
score = 9
reason = "some amount"
""")
    decision = rules.evaluate({"first_purchase": True, "amount": 5}, "EUR", B)
    assert (decision.action, decision.score) == (Action.REVIEW, 21)
    assert decision.reasons == ("first", "some amount") and decision.rules == ("a", "b")
    assert rules.evaluate({"amount": 5}, "EUR", B).action == Action.ALLOW


@pytest.mark.parametrize("score, action", [(0, Action.ALLOW), (29, Action.ALLOW),
                                           (30, Action.REQUIRE_3DS), (60, Action.REVIEW),
                                           (89, Action.REVIEW), (90, Action.BLOCK)])
def test_thresholds(score, action):
    assert Thresholds(30, 60, 90).action(score) == action


@pytest.mark.parametrize("by_score, floor, final, stage, passed, expected", [
    (Action.ALLOW, Action.ALLOW, None, B, False, Action.ALLOW),
    (Action.ALLOW, Action.BLOCK, None, B, False, Action.BLOCK),          # a floor raises
    (Action.REVIEW, Action.REQUIRE_3DS, None, B, False, Action.REVIEW),  # never lowers
    (Action.BLOCK, Action.ALLOW, Action.ALLOW, B, False, Action.ALLOW),  # final stands
    (Action.ALLOW, Action.ALLOW, Action.BLOCK, B, False, Action.BLOCK),
    (Action.REQUIRE_3DS, Action.ALLOW, None, B, False, Action.REQUIRE_3DS),
    # On the PSP's verdict the card is authorized: 3-D Secure passed → allow, else review.
    (Action.REQUIRE_3DS, Action.ALLOW, None, V, True, Action.ALLOW),
    (Action.REQUIRE_3DS, Action.ALLOW, None, V, False, Action.REVIEW),
    (Action.BLOCK, Action.ALLOW, None, V, True, Action.BLOCK),
])
def test_decision_table(by_score, floor, final, stage, passed, expected):
    assert decide_action(by_score, floor, final, stage, passed) == expected


def test_a_final_rule_stops_the_evaluation():
    rules = parse("""
[[rule]]
name = "allow"
signal = "allowlisted"
equals = true
decide = "allow"
final = true
[[rule]]
name = "block-big"
signal = "amount"
at_least = 1
score = 500
decide = "block"
""")
    allowed = rules.evaluate({"allowlisted": True, "amount": 10}, "EUR", B)
    assert allowed.action == Action.ALLOW and allowed.rules == ("allow",)
    assert rules.evaluate({"allowlisted": False, "amount": 10}, "EUR", B).action == Action.BLOCK


def test_velocity_signal_names_are_windows():
    assert velocity_window("declines_per_ip_10m") == Window("declines", "ip", 600)
    assert velocity_window("cards_per_email_domain_24h") == Window("cards", "email_domain", 86400)
    assert velocity_window("attempts_per_card_2d").signal == "attempts_per_card_2d"
    assert velocity_window("declines_per_planet_10m") is None
    rules = parse(one_rule('signal = "cards_per_buyer_1h"\nat_least = 3'))
    assert rules.windows() == {Window("cards", "buyer", 3600)}


def test_the_shipped_rules_file_parses_with_its_card_testing_policy():
    rules = parse(DEFAULT_FILE.read_text())
    assert rules.card_testing.throttle_at == 8 and rules.card_testing.window_seconds == 600
    names = [r.name for r in rules.rules]
    assert names[:2] == ["allowlisted", "blocklisted"]  # lists decide before anything else
    # Card testing escalates: three declines from one address → 3-D Secure, five → block.
    assert rules.evaluate({"declines_per_ip_10m": 3}, "EUR", B).action == Action.REQUIRE_3DS
    assert rules.evaluate({"declines_per_ip_10m": 5}, "EUR", B).action == Action.BLOCK
    # The PSP's verdicts: elevated → review, highest → block.
    assert rules.evaluate({"psp_risk": "elevated"}, "EUR", V).action == Action.REVIEW
    assert rules.evaluate({"psp_risk": "highest"}, "EUR", V).action == Action.BLOCK
    # An ordinary new buyer's first small purchase is allowed without friction.
    ordinary = {"first_purchase": True, "account_age_days": 0.01, "amount": 2400,
                "seller_paid_sales": 0}
    assert rules.evaluate(ordinary, "EUR", B).action == Action.ALLOW


@pytest.mark.parametrize("text, line, column, words", [
    ('[[rule]\nname = "x"', 1, 7, "not valid TOML"),
    ('version = 1\n\n[[rule]]\nname = "x"\nsignal = "nope"\nat_least = 1\n', 5, 1,
     "unknown signal 'nope'"),
    ('[[rule]]\nname = "x"\nsignal = "amount"\nat_least = "big"\n', 4, 1, "is not a int"),
    ('[[rule]]\nname = "x"\nsignal = "first_purchase"\nat_least = 1\n', 4, 1, "not a number"),
    ('[[rule]]\nname = "x"\nsignal = "amount"\nat_least = 1\nat_most = 5\n', 3, 1,
     "exactly one of"),
    ('[[rule]]\nname = "x"\nsignal = "amount"\nat_least = 1\ndecide = "maybe"\n', 5, 1,
     "'maybe' is not one of"),
    ('[[rule]]\nname = "x"\nsignal = "amount"\nat_least = 1\nfinal = true\n', 5, 1,
     "needs `decide`"),
    ('[[rule]]\nname = "x"\nsignal = "amount"\nat_least = 1\ncurrency = "XXX"\n', 5, 1,
     "not a currency"),
    ('[[rule]]\nname = "x"\nsignal = "psp_risk"\nequals = "scary"\n', 4, 1,
     "not a PSP risk level"),
    ('[[rule]]\nname = "x"\nsignal = "amount"\nat_least = 1\ncolour = "red"\n', 5, 1,
     "unknown field"),
    ('[thresholds]\nrequire_3ds = 50\nreview = 40\n', 1, 1, "require_3ds ≤ review ≤ block"),
    ('[card_testing]\nwindow = "soon"\n', 1, 1, "a duration"),
])
def test_problems_name_line_and_column(text, line, column, words):
    with pytest.raises(FraudRulesError) as raised:
        parse(text)
    first = raised.value.problems[0]
    assert first[:2] == (line, column), raised.value.messages
    assert words in first[2]
    assert raised.value.messages[0].startswith(f"line {line}, column {column}: ")


def test_every_problem_is_listed_and_duplicates_are_named():
    text = ('[[rule]]\nname = "x"\nsignal = "amount"\nat_least = 1\n\n'
            '[[rule]]\nname = "x"\nsignal = "amount"\nat_least = 2\n\n'
            '[[rule]]\nname = "y"\nsignal = "nope"\nat_least = 1\n')
    with pytest.raises(FraudRulesError) as raised:
        parse(text)
    lines = sorted(p[0] for p in raised.value.problems)
    assert lines == [7, 13]
