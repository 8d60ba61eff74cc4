"""Admins change the routing file: validated, audited, and in force everywhere at once."""
from __future__ import annotations

from dataclasses import dataclass

from app.database import unit_of_work
from app.domain.routing import RoutingError, RoutingTable, parse
from app.providers import routing_file
from app.providers.registry import configured
from app.services import audit
from app.services.audit import Actor
from app.services.errors import Conflict, ServiceError


class InvalidRouting(ServiceError):
    """The submitted routing file has errors; nothing was saved."""

    def __init__(self, problems: list[str]):
        super().__init__("The routing file has errors; nothing was saved.")
        self.problems = problems


@dataclass(frozen=True)
class RoutingView:
    """What the admin page shows."""

    text: str
    digest: str
    table: RoutingTable
    path: str
    configured: frozenset[str]
    warnings: tuple[str, ...]


def check(text: str) -> tuple[RoutingTable, tuple[str, ...]]:
    """Validate a routing file; raises InvalidRouting; warns about unconfigured providers."""
    try:
        table = parse(text, routing_file.known_providers())
    except RoutingError as exc:
        raise InvalidRouting(exc.problems) from None
    here = configured()
    warnings = tuple(
        f"rule “{rule.name}”: {choice.provider} is not configured here and will be skipped"
        for rule in table.rules for choice in rule.providers if choice.provider not in here)
    return table, warnings


def current_view() -> RoutingView:
    """The routing file in force, parsed, with warnings."""
    text = routing_file.read_text()
    table, warnings = check(text)
    return RoutingView(text, routing_file.digest(text), table, str(routing_file.path()),
                       configured(), warnings)


def update(text: str, actor: Actor, expected_digest: str | None = None) -> tuple[str, str]:
    """Validate and save a new routing file, audited with the old and new hashes; every
    process picks it up on its next payment. `expected_digest` refuses to overwrite a version
    someone else saved meanwhile. Returns (old hash, new hash)."""
    text = text.replace("\r\n", "\n")
    check(text)
    with unit_of_work():
        old = routing_file.digest(routing_file.read_text())
        if expected_digest and expected_digest != old:
            raise Conflict("Someone saved the routing file while you were editing it; "
                           "reload the page and apply your change again.")
        if routing_file.digest(text) == old:
            return old, old
        audit.record(actor, "routing.changed", "routing_file", old_hash=old,
                     new_hash=routing_file.digest(text))
        # Written inside the transaction: a failed write rolls the audit record back.
        old_hash, new_hash = routing_file.save(text)
    return old_hash, new_hash
