"""Admins change the fraud rules file: validated (with line and column), audited, and in force
in every process at once."""
from __future__ import annotations

from dataclasses import dataclass

from app.database import unit_of_work
from app.domain.fraud import RuleSet
from app.domain.fraud_file import FraudRulesError, parse
from app.services import audit
from app.services.audit import Actor
from app.services.errors import Conflict, ServiceError
from app.services.fraud import rules_file


class InvalidRules(ServiceError):
    """The submitted rules file has errors; nothing was saved."""

    def __init__(self, problems: list[str]):
        super().__init__("The fraud rules file has errors; nothing was saved.")
        self.problems = problems


@dataclass(frozen=True)
class RulesView:
    """What the admin page shows."""

    text: str
    digest: str
    rules: RuleSet
    path: str


def check(text: str) -> RuleSet:
    """Validate a rules file; raises InvalidRules listing 'line L, column C: …' problems."""
    try:
        return parse(text)
    except FraudRulesError as exc:
        raise InvalidRules(exc.messages) from None


def current_view() -> RulesView:
    """The rules file in force, parsed."""
    text = rules_file.read_text()
    return RulesView(text, rules_file.digest(text), check(text), str(rules_file.path()))


def update(text: str, actor: Actor, expected_digest: str | None = None) -> tuple[str, str]:
    """Validate and save a new rules file, audited with the old and new hashes; refuses to
    overwrite a version someone else saved meanwhile. Returns (old hash, new hash)."""
    text = text.replace("\r\n", "\n")
    check(text)
    with unit_of_work():
        old = rules_file.digest(rules_file.read_text())
        if expected_digest and expected_digest != old:
            raise Conflict("Someone saved the fraud rules while you were editing them; "
                           "reload the page and apply your change again.")
        if rules_file.digest(text) == old:
            return old, old
        audit.record(actor, "fraud.rules_changed", "fraud_rules_file", old_hash=old,
                     new_hash=rules_file.digest(text))
        # Written inside the transaction: a failed write rolls the audit record back.
        return rules_file.save(text)
