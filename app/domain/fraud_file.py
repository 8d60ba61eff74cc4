"""The fraud rules file (TOML) → a validated RuleSet, or every problem with its line and column.

Framework-free. TOML syntax errors carry tomllib's own line and column; a problem in a rule
names the line of the offending key inside that `[[rule]]` table (column 1), so the admin
page can point at it. docs/fraud.md documents the format.
"""
from __future__ import annotations

import re
import tomllib

from app.domain.fraud import (
    COMPARATORS,
    PSP_RISK_LEVELS,
    SCALAR_SIGNALS,
    UNIT_SECONDS,
    Action,
    CardTesting,
    Rule,
    RuleSet,
    Stage,
    Thresholds,
    velocity_window,
)
from app.domain.money import CURRENCY_EXPONENTS

RULE_FIELDS = frozenset({"name", "signal", "score", "reason", "decide", "final", "currency",
                         "stage", "description", "amount_at_least", *COMPARATORS})
TOP_LEVEL = frozenset({"version", "thresholds", "card_testing", "rule"})
_TOML_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)")
_DURATION = re.compile(r"^(\d+)([mhd])$")


class FraudRulesError(ValueError):
    """A rules file that cannot be used; `problems` lists every error as (line, column, text)."""

    def __init__(self, problems: list[tuple[int, int, str]]):
        self.problems = problems
        super().__init__("; ".join(self.messages))

    @property
    def messages(self) -> list[str]:
        """Each problem as 'line L, column C: text'."""
        return [f"line {line}, column {col}: {text}" if line else text
                for line, col, text in self.problems]


class _Lines:
    """Where each [[rule]] table and its keys start in the text (TOML data has no positions)."""

    def __init__(self, text: str):
        self.rules: list[dict[str, int]] = []
        self.tables: dict[str, int] = {}
        current: dict[str, int] | None = None
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if line.startswith("[[rule]]"):
                current = {"": number}
                self.rules.append(current)
            elif line.startswith("["):
                name = line.strip("[] ")
                self.tables[name] = number
                current = None
            elif current is not None and "=" in line and not line.startswith("#"):
                current.setdefault(line.split("=", 1)[0].strip(), number)

    def of_rule(self, index: int, key: str = "") -> int:
        """The line of key in the index-th rule (0-based), else of its header."""
        if index >= len(self.rules):
            return 0
        return self.rules[index].get(key, self.rules[index][""])


def parse(text: str) -> RuleSet:
    """Parse and validate a rules file; raises FraudRulesError listing every problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = _TOML_POSITION.search(str(exc))
        line, col = (int(match.group(1)), int(match.group(2))) if match else (0, 0)
        raise FraudRulesError([(line, col, f"not valid TOML: {_TOML_POSITION.sub('', str(exc)).strip()}")]) from None
    lines, problems = _Lines(text), []
    for key in sorted(set(data) - TOP_LEVEL):
        problems.append((1, 1, f"unknown top-level key {key!r} (allowed: "
                               f"{', '.join(sorted(TOP_LEVEL))})"))
    thresholds = _thresholds(data.get("thresholds", {}), lines.tables.get("thresholds", 1),
                             problems)
    card_testing = _card_testing(data.get("card_testing", {}),
                                 lines.tables.get("card_testing", 1), problems)
    raw_rules = data.get("rule", [])
    if not isinstance(raw_rules, list):
        problems.append((1, 1, "rule: must be [[rule]] tables"))
        raw_rules = []
    rules, names = [], set()
    for index, raw in enumerate(raw_rules):
        rule = _rule(index, raw, lines, problems)
        if rule is None:
            continue
        if rule.name in names:
            problems.append((lines.of_rule(index, "name"), 1,
                             f"rule “{rule.name}”: name: used by an earlier rule"))
        names.add(rule.name)
        rules.append(rule)
    if problems:
        raise FraudRulesError(problems)
    return RuleSet(tuple(rules), thresholds, card_testing, text)


def _thresholds(raw, line: int, problems) -> Thresholds:
    if not isinstance(raw, dict):
        problems.append((line, 1, "thresholds: must be a table"))
        return Thresholds()
    values = {}
    for key in ("require_3ds", "review", "block"):
        value = raw.get(key, getattr(Thresholds, key))
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append((line, 1, f"thresholds.{key}: must be a whole number"))
            return Thresholds()
        values[key] = value
    for extra in sorted(set(raw) - set(values)):
        problems.append((line, 1, f"thresholds.{extra}: unknown key (allowed: require_3ds, "
                                  "review, block)"))
    if not values["require_3ds"] <= values["review"] <= values["block"]:
        problems.append((line, 1, "thresholds: need require_3ds ≤ review ≤ block"))
    return Thresholds(**values)


def _card_testing(raw, line: int, problems) -> CardTesting:
    if not isinstance(raw, dict):
        problems.append((line, 1, "card_testing: must be a table"))
        return CardTesting()
    throttle_at = raw.get("throttle_at", CardTesting.throttle_at)
    if isinstance(throttle_at, bool) or not isinstance(throttle_at, int) or throttle_at < 1:
        problems.append((line, 1, "card_testing.throttle_at: must be a whole number ≥ 1"))
        throttle_at = CardTesting.throttle_at
    seconds = {}
    for key, default in (("window", "10m"), ("cooldown", "30m")):
        match = _DURATION.match(str(raw.get(key, default)))
        if not match:
            problems.append((line, 1, f"card_testing.{key}: a duration like \"10m\", \"1h\" "
                                      "or \"1d\""))
            match = _DURATION.match(default)
        seconds[key] = int(match.group(1)) * UNIT_SECONDS[match.group(2)]
    for extra in sorted(set(raw) - {"throttle_at", "window", "cooldown"}):
        problems.append((line, 1, f"card_testing.{extra}: unknown key"))
    return CardTesting(throttle_at, seconds["window"], seconds["cooldown"])


def _rule(index: int, raw, lines: _Lines, problems) -> Rule | None:
    if not isinstance(raw, dict):
        problems.append((lines.of_rule(index), 1, f"rule #{index + 1}: must be a table"))
        return None
    name = raw.get("name")
    label = f"rule “{name}”" if isinstance(name, str) and name.strip() else f"rule #{index + 1}"
    before = len(problems)

    def bad(key: str, message: str):
        problems.append((lines.of_rule(index, key), 1, f"{label}: {key}: {message}"))

    if not isinstance(name, str) or not name.strip():
        bad("name", "required, a non-empty string")
    for extra in sorted(set(raw) - RULE_FIELDS):
        bad(extra, f"unknown field (allowed: {', '.join(sorted(RULE_FIELDS))})")
    signal = raw.get("signal")
    kind = _signal_type(signal)
    if kind is None:
        bad("signal", f"unknown signal {signal!r}: one of {', '.join(SCALAR_SIGNALS)}, or "
                      "<attempts|declines|cards>_per_<buyer|card|ip|device|email_domain>_<N><m|h|d>")
    given = [c for c in COMPARATORS if c in raw]
    comparator, value = (given[0], raw[given[0]]) if len(given) == 1 else (None, None)
    if len(given) != 1:
        bad("signal", f"give exactly one of {', '.join(COMPARATORS)}")
    elif kind is not None:
        value = _check_value(kind, comparator, value, signal, bad)
    score = raw.get("score", 0)
    if isinstance(score, bool) or not isinstance(score, int):
        bad("score", "must be a whole number")
    decide = raw.get("decide")
    if decide is not None and decide not in {a.value for a in Action}:
        bad("decide", f"{decide!r} is not one of {', '.join(a.value for a in Action)}")
    final = raw.get("final", False)
    if not isinstance(final, bool) or (final and decide is None):
        bad("final", "must be true or false, and a final rule needs `decide`")
    currency = _list(raw, "currency", bad)
    for code in currency:
        if code not in CURRENCY_EXPONENTS:
            bad("currency", f"{code!r} is not a currency Holdfast accepts")
    stage = _list(raw, "stage", bad)
    for each in stage:
        if each not in {s.value for s in Stage}:
            bad("stage", f"{each!r} is not one of {', '.join(s.value for s in Stage)}")
    amount_at_least = raw.get("amount_at_least")
    if amount_at_least is not None and (isinstance(amount_at_least, bool)
                                        or not isinstance(amount_at_least, int)
                                        or amount_at_least < 0):
        bad("amount_at_least", "must be a whole number of minor units ≥ 0")
    for key in ("reason", "description"):
        if not isinstance(raw.get(key, ""), str):
            bad(key, "must be a string")
    if len(problems) > before:
        return None
    return Rule(name.strip(), signal, comparator, value, score, raw.get("reason", ""),
                Action(decide) if decide else None, final, currency,
                tuple(Stage(s) for s in stage), amount_at_least, lines.of_rule(index))


def _signal_type(signal) -> type | None:
    if not isinstance(signal, str):
        return None
    if signal in SCALAR_SIGNALS:
        return SCALAR_SIGNALS[signal]
    return int if velocity_window(signal) is not None else None


def _check_value(kind: type, comparator: str, value, signal: str, bad):
    values = value if comparator == "one_of" else [value]
    if comparator == "one_of" and (not isinstance(value, list) or not value):
        bad("one_of", "must be a non-empty list")
        return None
    if comparator in ("at_least", "at_most") and kind not in (int, float):
        bad(comparator, f"{signal} is not a number: use equals or one_of")
        return None
    for each in values:
        ok = (isinstance(each, bool) if kind is bool
              else isinstance(each, (int, float)) and not isinstance(each, bool)
              if kind in (int, float) else isinstance(each, str))
        if not ok:
            bad(comparator, f"{each!r} is not a {kind.__name__} (the type of {signal})")
            return None
        if signal == "psp_risk" and each not in PSP_RISK_LEVELS:
            bad(comparator, f"{each!r} is not a PSP risk level ({', '.join(PSP_RISK_LEVELS)})")
    return tuple(values) if comparator == "one_of" else value


def _list(raw: dict, key: str, bad) -> tuple[str, ...]:
    value = raw.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        bad(key, "must be a string or a list of non-empty strings")
        return ()
    return tuple(value)
