"""Single-use card tokens (`tok_…`): made by the card fields in the buyer's browser with a
publishable key, spent by the platform's server with the secret key of the same account.

The number and CVC are in memory for the one request that makes the token; the token keeps what
a saved method keeps. Spending it asks the same test issuer, so a 3-D Secure card still needs
its challenge and a declined card is declined at authorization (as Stripe: tokenizing is not
authorizing).
"""
import time

from flask import current_app

from . import cards, idempotency
from .errors import ApiError, invalid
from .models import CardToken, db, new_id, now


class TokenCard:
    """A token standing in for a typed card in sessions.authorize."""

    def __init__(self, token: CardToken):
        self.token = token

    def outcome(self):
        """What the test issuer answers: the answer noted while the number was in memory."""
        noted = self.token.outcome
        return tuple(noted) if isinstance(noted, list) else noted

    def display_data(self, _fingerprint_key: str) -> dict:
        """The session's `payment_method`: the card's display data (no `pm_` id: not saved)."""
        return dict(self.token.card)

    def risk(self) -> tuple[str, int]:
        """The risk verdict noted when the token was made."""
        return self.token.risk_level, self.token.risk_score

    @property
    def blocked(self) -> bool:
        """Whether the PSP's fraud screen blocks this card."""
        return self.token.blocked


def publishable_scope(publishable_key: str) -> str | None:
    """The account (scope of its secret key) a publishable key belongs to; None if unknown."""
    pairs = dict(zip(current_app.config["SANDBOX_PUBLISHABLE_KEYS"],
                     current_app.config["SANDBOX_API_KEYS"]))
    secret = pairs.get(publishable_key or "")
    return idempotency.scope_of(secret) if secret else None


def create(publishable_key: str, number: str, expiry: str, cvc: str) -> CardToken:
    """A token for a typed card, or a 400 naming the field (number, expiry, cvc) at fault."""
    scope = publishable_scope(publishable_key)
    if scope is None:
        raise ApiError(401, "authentication_error", "invalid_api_key",
                       "Invalid publishable key.")
    try:
        card = cards.parse_card(number, expiry, cvc)
    except cards.CardInputError as problem:
        field = {"incorrect_number": "number", "invalid_cvc": "cvc"}.get(problem.code, "expiry")
        raise invalid(field, problem.message, problem.code) from None
    level, score = card.risk()
    created = now()
    token = CardToken(id=new_id("tok"), scope=scope, created=created,
                      expires_at=created + current_app.config["SANDBOX_TOKEN_TTL"],
                      card=card.display_data(current_app.config["SANDBOX_FINGERPRINT_KEY"]),
                      outcome=list(card.outcome()) if isinstance(card.outcome(), tuple)
                      else card.outcome(),
                      risk_level=level, risk_score=score, blocked=card.blocked)
    db.session.add(token)
    return token


def spend(token_id: str, scope: str, session_id: str) -> TokenCard | None:
    """The card behind an unspent token of this account, marked spent by `session_id`; None
    for an unknown token or another account's; a 400 for one spent or expired."""
    token = db.session.get(CardToken, token_id)
    if token is None or token.scope != scope:
        return None
    if token.used_by is not None:
        raise invalid("payment_method", "This token was already used; tokens pay once.",
                      "token_already_used")
    if time.time() >= token.expires_at:
        raise invalid("payment_method", "This token has expired; ask the buyer to try again.",
                      "token_expired")
    token.used_by = session_id
    return TokenCard(token)
