"""What a buyer reads when a card is declined, by the platform's decline code.

Each provider's mapping turns its own decline reasons into these codes (Stripe's and the
sandbox's are the same words; Braintree maps its processor response codes); the wording lives
here, once, so a buyer reads the same sentence whichever PSP declined the card.
"""
from __future__ import annotations

# Plain words, and what to do next.
DECLINE_MESSAGES = {
    "generic_decline": "Your card was declined. Please try another card.",
    "card_declined": "Your card was declined. Please try another card.",
    "insufficient_funds": "Your card has insufficient funds. Please try another card.",
    "expired_card": "Your card has expired. Please use another card.",
    "incorrect_cvc": "The security code (CVC) is incorrect. Check it or try another card.",
    "incorrect_number": "The card number is incorrect. Please check it and try again.",
    "fraudulent": "Your bank blocked this payment. Please use another card or contact your bank.",
    "authentication_failed": "Your bank could not confirm it was you (3-D Secure failed). "
                             "Please try again or use another card.",
    "processing_error": "Your bank could not process the payment. Please try again.",
}
DEFAULT_DECLINE_MESSAGE = "The payment did not go through. Please try another card."


def decline_message(code: str | None) -> str:
    """Buyer-facing words for a decline or failure code; unknown codes get the default."""
    return DECLINE_MESSAGES.get(code or "", DEFAULT_DECLINE_MESSAGE)
