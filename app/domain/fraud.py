"""Fraud screening as data: ordered rules add a score and a reason; thresholds decide.

Framework-free. The service gathers the signals of one payment attempt (velocity counts, amount
against history, countries, lists, seller risk, the PSP's own verdict) into a plain mapping; the
rules are evaluated top to bottom against it, each matching rule adding its score and reason,
and the total score against the thresholds gives the decision: allow, require 3-D Secure, review
or block. A rule may also set a floor on the decision (`decide`), and a `final` rule ends the
evaluation with its own decision (an allowlisted buyer is allowed whatever follows).
The rules file is parsed and validated in `fraud_file.py`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum


class Action(str, Enum):
    """What screening decides, in rising severity."""

    ALLOW = "allow"
    REQUIRE_3DS = "require_3ds"
    REVIEW = "review"
    BLOCK = "block"

    @property
    def rank(self) -> int:
        """Severity: a floor never lowers a decision."""
        return list(Action).index(self)

    def __str__(self) -> str:
        return self.value


class Stage(str, Enum):
    """When screening runs: before the PSP sees the payment, and on the PSP's verdict."""

    BEFORE_PSP = "before_psp"
    PSP_VERDICT = "psp_verdict"


# Every signal a rule may test, and its type. None in the signals means "not known here"
# (e.g. the card's fingerprint before the PSP has seen the card): a rule on it does not match.
SCALAR_SIGNALS: dict[str, type] = {
    "amount": int,                     # minor units of the payment's currency
    "amount_vs_history": float,        # amount / the buyer's largest earlier paid amount
    "first_purchase": bool,            # the buyer has never paid an order before
    "account_age_days": float,
    "ip_country": str, "billing_country": str, "card_country": str,
    "ip_billing_mismatch": bool,       # both known and different
    "ip_card_mismatch": bool,
    "card_billing_mismatch": bool,
    "blocklisted": bool,               # email, fingerprint, IP range, device or country listed
    "allowlisted": bool,
    "watchlisted": bool,               # added by a lost chargeback or confirmed fraud
    "seller_age_days": float,          # the youngest seller in the order
    "seller_paid_sales": int,          # that seller's paid orders so far
    "psp_risk": str,                   # normal | elevated | highest (Stripe's risk_level)
    "three_d_secure": bool,            # the buyer passed 3-D Secure on this payment
    "email_domain": str,
}
VELOCITY_COUNTS = ("attempts", "declines", "cards")
VELOCITY_KEYS = ("buyer", "card", "ip", "device", "email_domain")
# e.g. declines_per_ip_10m, cards_per_device_1h, attempts_per_email_domain_24h
VELOCITY = re.compile(rf"^({'|'.join(VELOCITY_COUNTS)})_per_({'|'.join(VELOCITY_KEYS)})"
                      r"_(\d+)([mhd])$")
UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400}
COMPARATORS = ("at_least", "at_most", "equals", "one_of")
PSP_RISK_LEVELS = ("normal", "elevated", "highest")


@dataclass(frozen=True)
class Window:
    """A sliding-window count the service must fetch from Redis: what, per whom, how far back."""

    count: str      # attempts | declines | cards
    key: str        # buyer | card | ip | device | email_domain
    seconds: int

    @property
    def signal(self) -> str:
        """The signal name the rules use for it."""
        for unit in ("d", "h", "m"):
            size = UNIT_SECONDS[unit]
            if self.seconds % size == 0:
                return f"{self.count}_per_{self.key}_{self.seconds // size}{unit}"
        raise ValueError(self.seconds)


def velocity_window(signal: str) -> Window | None:
    """The window a velocity signal name stands for, or None if it is not one."""
    match = VELOCITY.match(signal)
    if not match:
        return None
    count, key, size, unit = match.groups()
    return Window(count, key, int(size) * UNIT_SECONDS[unit])


@dataclass(frozen=True)
class Rule:
    """One condition on one signal (optionally limited to currencies and a stage)."""

    name: str
    signal: str
    comparator: str          # at_least | at_most | equals | one_of
    value: object
    score: int = 0
    reason: str = ""
    decide: Action | None = None
    final: bool = False
    currency: tuple[str, ...] = ()
    stage: tuple[Stage, ...] = ()
    # Only for payments of at least this many minor units (with `currency`: per-currency).
    amount_at_least: int | None = None
    line: int = 0

    def matches(self, signals: dict, currency: str, stage: Stage) -> bool:
        """True when the rule applies to this payment and its condition holds."""
        if self.currency and currency not in self.currency:
            return False
        if self.stage and stage not in self.stage:
            return False
        if self.amount_at_least is not None and (signals.get("amount") or 0) < self.amount_at_least:
            return False
        actual = signals.get(self.signal)
        if actual is None:
            return False
        if self.comparator == "at_least":
            return actual >= self.value
        if self.comparator == "at_most":
            return actual <= self.value
        if self.comparator == "equals":
            return actual == self.value
        return actual in self.value


@dataclass(frozen=True)
class Thresholds:
    """Scores from which each action applies (require_3ds ≤ review ≤ block)."""

    require_3ds: int = 30
    review: int = 60
    block: int = 90

    def action(self, score: int) -> Action:
        """The action a total score earns."""
        if score >= self.block:
            return Action.BLOCK
        if score >= self.review:
            return Action.REVIEW
        if score >= self.require_3ds:
            return Action.REQUIRE_3DS
        return Action.ALLOW


@dataclass(frozen=True)
class CardTesting:
    """A burst of declines or distinct cards from one buyer, IP or device: past `throttle_at`
    in `window_seconds` the checkout endpoint answers 429 for `cooldown_seconds` and support is
    alerted (the rules escalate to 3-D Secure and block before that)."""

    throttle_at: int = 8
    window_seconds: int = 600
    cooldown_seconds: int = 1800


@dataclass(frozen=True)
class Decision:
    """What screening decided and why: stored on the payment and in the audit log."""

    action: Action
    score: int
    reasons: tuple[str, ...]
    rules: tuple[str, ...]      # the names of the rules that matched, in order


@dataclass(frozen=True)
class RuleSet:
    """A validated rules file."""

    rules: tuple[Rule, ...]
    thresholds: Thresholds = Thresholds()
    card_testing: CardTesting = CardTesting()
    source: str = field(default="", repr=False)

    def windows(self) -> frozenset[Window]:
        """Every sliding window the rules read (the service counts exactly these)."""
        found = {velocity_window(rule.signal) for rule in self.rules}
        found.discard(None)
        return frozenset(found)

    def evaluate(self, signals: dict, currency: str, stage: Stage) -> Decision:
        """Run the rules in order over the signals; the decision table is `decide_action`."""
        score, reasons, names, floor, final = 0, [], [], Action.ALLOW, None
        for rule in self.rules:
            if not rule.matches(signals, currency, stage):
                continue
            score += rule.score
            reasons.append(rule.reason or rule.name)
            names.append(rule.name)
            if rule.decide is not None and rule.final:
                final = rule.decide
                break
            if rule.decide is not None and rule.decide.rank > floor.rank:
                floor = rule.decide
        action = decide_action(self.thresholds.action(score), floor, final, stage,
                               bool(signals.get("three_d_secure")))
        return Decision(action, score, tuple(reasons), tuple(names))


def decide_action(by_score: Action, floor: Action, final: Action | None, stage: Stage,
                  passed_3ds: bool) -> Action:
    """The decision table: a final rule's word stands; else the stronger of score and floor.
    On the PSP's verdict the card is already authorized, so "require 3-D Secure" means: fine
    if the buyer passed it, otherwise a person reviews it."""
    action = final if final is not None else max(by_score, floor, key=lambda a: a.rank)
    if stage == Stage.PSP_VERDICT and action == Action.REQUIRE_3DS:
        return Action.ALLOW if passed_3ds else Action.REVIEW
    return action
