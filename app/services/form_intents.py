"""One-time keys for the forms that move money: a double click, a browser resending a POST after
a timeout, or Back-and-submit-again must act once, and say again what the first one did.

The page mints a key into its form (`mint`, the Jinja global `form_intent()`); the route spends
it with `once`. The first submission claims the key in a transaction of its own (a concurrent
second one waits on that row and then finds it taken), runs the action, and records what the
person was told; a repeat is told the same and changes nothing. An action that is refused (a
ServiceError: nothing moved) frees the key, so the corrected form can be sent again. A key whose
action died some other way stays claimed: the state guards behind every action make another run
safe, but the person should look at the page before pressing again, and is told so.

The refund forms use the refund's own idempotency key instead (services.refunds.mint_intent),
because there the key also goes to the PSP.
"""
from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from app.database import unit_of_work
from app.extensions import db
from app.models.form_intents import FormIntent
from app.services.errors import ServiceError

KEY = re.compile(r"fi_[0-9a-f]{32}")
STALE = ("This form was out of date, so nothing was changed. The page has been reloaded: "
         "check it and try again.")
IN_FLIGHT = ("This was already sent and may still be in progress: check the page before "
             "trying again.")


@dataclass(frozen=True)
class Once:
    """What a submission did: `first` when it was the one that acted."""

    first: bool
    message: str


def mint() -> str:
    """A fresh key for one form shown to one person."""
    return f"fi_{secrets.token_hex(16)}"


def valid(text: str | None) -> bool:
    """True when text has the shape of a key from mint."""
    return bool(text) and KEY.fullmatch(text) is not None


def once(key: str | None, purpose: str, action: Callable[[], str]) -> Once:
    """Run action (which returns what to tell the person) the first time key is spent on
    purpose; a repeat returns the first answer. A missing, malformed or misused key refuses."""
    if not valid(key):
        raise ServiceError(STALE)
    earlier = _claim(key, purpose)
    if earlier is not None:
        spent_on, outcome = earlier
        if spent_on != purpose:
            raise ServiceError(STALE)
        return Once(False, outcome or IN_FLIGHT)
    try:
        message = action()
    except ServiceError:
        _release(key)
        raise
    with unit_of_work() as session:
        session.get(FormIntent, key).outcome = message
    return Once(True, message)


def _claim(key: str, purpose: str) -> tuple[str, str | None] | None:
    """Take key for purpose (committed at once); None when it was free, else what it was
    spent on and what that submission was told."""
    try:
        with unit_of_work() as session:
            row = session.get(FormIntent, key)
            if row is not None:
                return row.purpose, row.outcome
            session.add(FormIntent(key=key, purpose=purpose))
    except IntegrityError:  # a concurrent submission claimed it first
        row = db.session.get(FormIntent, key)
        return row.purpose, row.outcome
    return None


def _release(key: str) -> None:
    with unit_of_work() as session:
        row = session.get(FormIntent, key)
        if row is not None:
            session.delete(row)
