"""Payment routing as data: ordered rules that send a payment to an ordered list of providers.

Framework-free: rules are parsed from TOML text, validated with errors that name the rule and
the field, and evaluated against a RouteContext. The first rule whose every condition holds
decides; the last rule must be a default with no conditions, so every payment has a route.
Weighted lists are ordered by a draw seeded with the payment's own key, so a retry of the same
payment always gets the same order (and never flips to another PSP between attempts).
"""
from __future__ import annotations

import hashlib
import random
import tomllib
from dataclasses import dataclass, field

from app.domain.money import CURRENCY_EXPONENTS, Money
from app.domain.route_costs import (
    MODES,
    FeeRate,
    cheapest_first,
    comparison,
    parse_fees,
    rule_costs,
)

# EU member states (ISO 3166-1 alpha-2): cards issued here carry the "eu_card" tag, so a rule
# can keep them with an EU acquirer.
EU_COUNTRIES = frozenset(
    ["AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE"])
METHODS = frozenset({"card", "wallet", "bank_transfer"})
CONDITIONS = ("country", "currency", "method", "amount_min", "amount_max", "tags")
# modes: the integration modes a rule allows, preferred first (compliance: "fields" puts our
# page in SAQ A-EP scope, so only rules our assessment covers list it); prefer = "cheapest"
# tries the rule's providers cheapest first by the [fees] table.
RULE_FIELDS = frozenset({"name", "providers", "description", "modes", "prefer", *CONDITIONS})


class RoutingError(ValueError):
    """A routing file that cannot be used; `problems` lists every error found."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class RouteContext:
    """What routing may look at for one payment."""

    currency: str
    amount: int                      # minor units
    method: str = "card"
    country: str | None = None       # the buyer's billing country, ISO 3166-1 alpha-2
    key: str = ""                    # the payment's idempotency key: seeds weighted draws
    mode: str | None = None          # the integration mode the buyer chose (None: not yet)
    extra_tags: frozenset[str] = frozenset()

    @property
    def tags(self) -> frozenset[str]:
        """Compliance tags derived from the context (e.g. "eu", "eu_card") plus extra ones."""
        derived = set(self.extra_tags)
        if self.country in EU_COUNTRIES:
            derived.add("eu")
            derived.add(f"eu_{self.method}")
        return frozenset(derived)


@dataclass(frozen=True)
class Choice:
    """One provider in a rule, with an optional weight."""

    provider: str
    weight: int | None = None


@dataclass(frozen=True)
class Rule:
    """Conditions (empty tuple / None: any) → ordered provider choices."""

    name: str
    providers: tuple[Choice, ...]
    country: tuple[str, ...] = ()
    currency: tuple[str, ...] = ()
    method: tuple[str, ...] = ()
    amount_min: int | None = None
    amount_max: int | None = None
    tags: tuple[str, ...] = ()
    description: str = ""
    modes: tuple[str, ...] = MODES
    prefer: str = "order"

    @property
    def is_default(self) -> bool:
        """A rule with no conditions matches every payment."""
        return not (self.country or self.currency or self.method or self.tags
                    or self.amount_min is not None or self.amount_max is not None)

    def mismatch(self, ctx: RouteContext) -> str | None:
        """Why the rule does not match ctx, or None when it does."""
        if self.currency and ctx.currency not in self.currency:
            return f"currency {ctx.currency} not in {list(self.currency)}"
        if self.country and ctx.country not in self.country:
            return f"country {ctx.country or 'unknown'} not in {list(self.country)}"
        if self.method and ctx.method not in self.method:
            return f"method {ctx.method} not in {list(self.method)}"
        if self.amount_min is not None and ctx.amount < self.amount_min:
            return f"amount {ctx.amount} < {self.amount_min}"
        if self.amount_max is not None and ctx.amount > self.amount_max:
            return f"amount {ctx.amount} > {self.amount_max}"
        missing = [t for t in self.tags if t not in ctx.tags]
        if missing:
            return f"tags {missing} missing"
        return None

    def describe_match(self, ctx: RouteContext) -> str:
        """The conditions that held, in words (for the reason stored on the payment)."""
        held = []
        if self.currency:
            held.append(f"currency {ctx.currency}")
        if self.country:
            held.append(f"country {ctx.country}")
        if self.method:
            held.append(f"method {ctx.method}")
        if self.amount_min is not None or self.amount_max is not None:
            held.append(f"amount {ctx.amount} in [{self.amount_min or 0}, "
                        f"{'∞' if self.amount_max is None else self.amount_max}]")
        if self.tags:
            held.append("tags " + ", ".join(self.tags))
        return " and ".join(held) if held else "no other rule matched"


@dataclass(frozen=True)
class Decision:
    """The outcome of routing: providers in the order to try, the rule, and why."""

    providers: tuple[str, ...]
    rule: str
    reason: str
    modes: tuple[str, ...] = MODES   # the modes the rule allows, preferred first


@dataclass(frozen=True)
class RoutingTable:
    """A validated routing file."""

    rules: tuple[Rule, ...]
    source: str = field(default="", repr=False)
    fees: dict[tuple[str, str], FeeRate] = field(default_factory=dict, compare=False)

    def fee(self, provider: str, mode: str) -> FeeRate | None:
        """The fee on file for a provider and mode, or None."""
        return self.fees.get((provider, mode))

    def decide(self, ctx: RouteContext, available: frozenset[str] | None = None) -> Decision:
        """The first matching rule's providers (those in `available`, when given), ordered."""
        skipped = []
        for rule in self.rules:
            if rule.mismatch(ctx) is not None:
                continue
            order = [p for p in ordered(rule, ctx.key) if available is None or p in available]
            if not order:
                skipped.append(rule.name)
                continue
            weighted = " (weighted draw)" if rule.providers[0].weight is not None else ""
            cost = ""
            if rule.prefer == "cheapest" and ctx.mode in rule.modes:
                order, weighted = cheapest_first(order, ctx.mode, ctx.amount, self.fees), ""
                cost = "; " + comparison(order[0], ctx.mode, order, rule.modes,
                                         Money(ctx.amount, ctx.currency), self.fees)
            reason = f"rule “{rule.name}”: {rule.describe_match(ctx)} → {', '.join(order)}"
            reason += weighted + cost
            if skipped:
                reason += f"; skipped {', '.join(skipped)}: no configured provider"
            return Decision(tuple(order), rule.name, reason, rule.modes)
        tried = ", ".join(skipped) or "no rules"
        problem = f"no rule with a configured provider matches {ctx.currency} {ctx.amount}"
        raise RoutingError([f"{problem} ({tried})"])


def ordered(rule: Rule, key: str) -> list[str]:
    """A rule's providers in trial order: as written, or by a weighted draw seeded with key."""
    if rule.providers[0].weight is None:
        return [c.provider for c in rule.providers]
    seed = int.from_bytes(hashlib.sha256(f"{rule.name}:{key}".encode()).digest()[:8], "big")
    draw = random.Random(seed)
    pool = list(rule.providers)
    order = []
    while pool:  # weighted sampling without replacement: the draw picks first, second, ...
        pick = draw.uniform(0, sum(c.weight for c in pool))
        for choice in pool:
            pick -= choice.weight
            if pick <= 0 or choice is pool[-1]:
                order.append(choice.provider)
                pool.remove(choice)
                break
    return order


def parse(text: str, known_providers: frozenset[str] | set[str]) -> RoutingTable:
    """Parse and validate a routing file; raises RoutingError listing every problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RoutingError([f"not valid TOML: {exc}"]) from None
    problems: list[str] = []
    unknown_top = sorted(set(data) - {"rule", "version", "fees"})
    if unknown_top:
        problems.append(f"unknown top-level key(s): {', '.join(unknown_top)}")
    raw_rules = data.get("rule")
    if not isinstance(raw_rules, list) or not raw_rules:
        raise RoutingError(problems + ["no [[rule]] tables: at least a default rule is needed"])
    rules, names = [], set()
    for index, raw in enumerate(raw_rules, start=1):
        rule = _rule(index, raw, known_providers, problems)
        if rule is None:
            continue
        if rule.name in names:
            problems.append(f"rule “{rule.name}”: name: used by an earlier rule")
        names.add(rule.name)
        rules.append(rule)
    if rules and not rules[-1].is_default and len(rules) == len(raw_rules):
        problems.append(f"rule “{rules[-1].name}”: the last rule must be a default rule with "
                        "no conditions, so that every payment has a route")
    for rule in rules[:-1]:
        if rule.is_default:
            problems.append(f"rule “{rule.name}”: has no conditions, so the rules after it "
                            "can never match; move it to the end")
    fees = parse_fees(data.get("fees"), known_providers, problems)
    if problems:
        raise RoutingError(problems)
    return RoutingTable(tuple(rules), text, fees)


def _rule(index: int, raw, known: frozenset[str] | set[str], problems: list[str]) -> Rule | None:
    if not isinstance(raw, dict):
        problems.append(f"rule #{index}: must be a table")
        return None
    name = raw.get("name")
    label = f"rule “{name}”" if isinstance(name, str) and name else f"rule #{index}"
    before = len(problems)

    def bad(field_name: str, message: str):
        problems.append(f"{label}: {field_name}: {message}")

    if not isinstance(name, str) or not name.strip():
        bad("name", "required, a non-empty string")
    for extra in sorted(set(raw) - RULE_FIELDS):
        bad(extra, f"unknown field (allowed: {', '.join(sorted(RULE_FIELDS))})")
    currency = _codes(raw, "currency", 3, bad)
    for code in currency:
        if code not in CURRENCY_EXPONENTS:
            bad("currency", f"{code} is not a currency Holdfast accepts")
    country = _codes(raw, "country", 2, bad)
    method = _strings(raw, "method", bad)
    for m in method:
        if m not in METHODS:
            bad("method", f"{m!r} is not one of {', '.join(sorted(METHODS))}")
    tags = _strings(raw, "tags", bad)
    amount_min, amount_max = _amount(raw, "amount_min", bad), _amount(raw, "amount_max", bad)
    if amount_min is not None and amount_max is not None and amount_min > amount_max:
        bad("amount_min", f"{amount_min} is greater than amount_max {amount_max}")
    providers = _providers(raw.get("providers"), known, bad)
    description = raw.get("description", "")
    if not isinstance(description, str):
        bad("description", "must be a string")
    modes, prefer = rule_costs(raw, bad)
    if len(problems) > before:
        return None
    return Rule(name.strip(), providers, country, currency, method, amount_min, amount_max,
                tags, description, modes, prefer)


def _strings(raw: dict, key: str, bad) -> tuple[str, ...]:
    value = raw.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        bad(key, "must be a string or a list of non-empty strings")
        return ()
    return tuple(value)


def _codes(raw: dict, key: str, length: int, bad) -> tuple[str, ...]:
    codes = _strings(raw, key, bad)
    good = tuple(c for c in codes
                 if len(c) == length and c.isascii() and c.isalpha() and c.isupper())
    for code in codes:
        if code not in good:
            bad(key, f"{code!r} is not a {length}-letter upper-case ISO code")
    return good


def _amount(raw: dict, key: str, bad) -> int | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        bad(key, f"must be a whole number of minor units ≥ 0, not {value!r}")
        return None
    return value


def _providers(value, known, bad) -> tuple[Choice, ...]:
    if not isinstance(value, list) or not value:
        bad("providers", "required, a non-empty list of provider names or "
                         "{name = \"…\", weight = N} tables")
        return ()
    choices = []
    for entry in value:
        if isinstance(entry, str):
            entry = {"name": entry}
        if not isinstance(entry, dict) or set(entry) - {"name", "weight"}:
            bad("providers", f"{entry!r} is neither a name nor a {{name, weight}} table")
            continue
        name, weight = entry.get("name"), entry.get("weight")
        if name not in known:
            bad("providers", f"unknown provider {name!r} (known: {', '.join(sorted(known))})")
        elif weight is not None and (isinstance(weight, bool) or not isinstance(weight, int)
                                     or weight <= 0):
            bad("providers", f"weight of {name} must be a whole number > 0, not {weight!r}")
        else:
            choices.append(Choice(name, weight))
    names = [c.provider for c in choices]
    if len(set(names)) != len(names):
        bad("providers", "a provider is listed twice")
    weighted = {c.weight is not None for c in choices}
    if len(weighted) > 1:
        bad("providers", "give every provider a weight, or none")
    return tuple(choices)
