"""Reusable payment methods (`pm_…`): saved when a session asks for it, used again by its API key.

A session created with `setup_future_usage` attaches, when it is authorized, a payment method
owned by the API key that created the session. What is kept is what a session's
`payment_method` shows (brand, last 4, expiry, keyed fingerprint) plus the test issuer's answer
for that card, noted while the number was in memory: never the number or the CVC. Paying with a
saved method asks the same issuer again, so a 3-D Secure card still needs its challenge.
"""
from dataclasses import dataclass

from . import cards
from .models import PaymentMethod, PaymentSession, SessionSetup, db, new_id, now

USAGES = ("on_session", "off_session")
# Outcomes a saved card can have: declined cards are never authorized, so never saved.
_REUSABLE = (cards.SUCCEED, cards.THREE_DS, cards.DISPUTE)


@dataclass(frozen=True)
class SavedCard:
    """A saved method standing in for a typed card in sessions.authorize."""

    method: PaymentMethod

    def outcome(self):
        """What the test issuer answers for this card: the answer noted when it was saved."""
        return self.method.outcome

    def display_data(self, _fingerprint_key: str) -> dict:
        """The session's `payment_method`: the saved method's id and display data."""
        return self.method.display()

    def risk(self) -> tuple[str, int]:
        """A saved card authorized before: the PSP sees normal risk."""
        return cards.NORMAL_RISK

    @property
    def blocked(self) -> bool:
        """Saved cards were authorized once, so never the always-blocked test card."""
        return False


def request_setup(session: PaymentSession, usage: str | None, scope: str) -> None:
    """Note that this new session should keep its card, for the API key that created it."""
    if usage is not None:
        session.setup = SessionSetup(scope=scope, usage=usage)


def note_outcome(session: PaymentSession, outcome) -> None:
    """Remember the issuer's answer for the card being authorized (called with the card in hand)."""
    if session.setup is not None and outcome in _REUSABLE:
        session.setup.card_outcome = outcome


def attach_if_requested(session: PaymentSession) -> None:
    """On authorization: save the session's card as a `pm_…` of its owner, if it asked to."""
    setup, shown = session.setup, session.payment_method or {}
    if setup is None or not shown or shown.get("id") or setup.card_outcome is None:
        return  # not asked, or paid with a method that is already saved
    method = PaymentMethod(id=new_id("pm"), scope=setup.scope, created=now(),
                           brand=shown["brand"], last4=shown["last4"],
                           exp_month=shown["exp_month"], exp_year=shown["exp_year"],
                           fingerprint=shown["fingerprint"], outcome=setup.card_outcome,
                           session_id=session.id)
    db.session.add(method)
    session.payment_method = method.display()  # a new dict, so the JSON column is written


def saved_card(token: str, scope: str) -> SavedCard | None:
    """The saved method `token` of this API key; None for an unknown one or another key's."""
    method = db.session.get(PaymentMethod, token)
    if method is None or method.scope != scope:
        return None
    return SavedCard(method)
