"""Card numbers: Luhn check, brand, keyed fingerprint, Stripe's test cards and pm_card_* tokens.

A card number and CVC live only in a `Card` in memory for one request; what is kept is
`display_data()`: brand, last 4, expiry and an HMAC fingerprint (PCI DSS 3.3.1, 3.5.1.1).
"""
import datetime
import hashlib
import hmac
import re
from dataclasses import dataclass, field

SUCCEED, THREE_DS, DISPUTE = "succeed", "three_d_secure", "dispute"

_DECLINED = "Your card was declined."
# number -> outcome: SUCCEED, THREE_DS, DISPUTE, or a decline (code, decline_code, message).
TEST_CARDS = {
    "4242424242424242": SUCCEED,
    "5555555555554444": SUCCEED,
    "378282246310005": SUCCEED,
    "4000000000000002": ("card_declined", "generic_decline", _DECLINED),
    "4000000000009995": ("card_declined", "insufficient_funds", "Your card has insufficient funds."),
    "4000000000000069": ("expired_card", "expired_card", "Your card has expired."),
    "4000000000000127": ("incorrect_cvc", "incorrect_cvc", "Your card's security code is incorrect."),
    "4000002760003184": THREE_DS,
    "4000000000000259": DISPUTE,
    "4100000000000019": ("card_declined", "fraudulent", _DECLINED),
    "4000000000009235": SUCCEED,
    "4000000000004954": SUCCEED,
    "4000000760000002": SUCCEED,
    "4000001240000000": SUCCEED,
    "4000002500000003": SUCCEED,
    "4000002760000016": SUCCEED,
    "4000008260000000": SUCCEED,
}
# Stripe's risk test cards: the issuer authorizes, the PSP's risk verdict says how risky it
# looks (outcome.risk_level / risk_score); 4100 0000 0000 0019 is always blocked.
RISK_CARDS = {
    "4000000000009235": ("elevated", 65),
    "4000000000004954": ("highest", 85),
    "4100000000000019": ("highest", 95),
}
NORMAL_RISK = ("normal", 20)
BLOCKED_CARDS = frozenset({"4100000000000019"})
# Stripe's international test cards, by issuing country; other test cards are US-issued.
ISSUING_COUNTRIES = {
    "4000000760000002": "BR", "4000001240000000": "CA", "4000002500000003": "FR",
    "4000002760000016": "DE", "4000002760003184": "DE", "4000008260000000": "GB",
}
# Like Stripe's test mode, any other valid number is refused rather than "charged".
LIVE_CARD_DECLINE = ("card_declined", "test_mode_live_card",
                     "Your card was declined. This sandbox accepts only test cards.")

PAYMENT_METHOD_TOKENS = {
    "pm_card_visa": "4242424242424242",
    "pm_card_chargeDeclined": "4000000000000002",
    "pm_card_chargeDeclinedInsufficientFunds": "4000000000009995",
    "pm_card_chargeDeclinedExpiredCard": "4000000000000069",
    "pm_card_chargeDeclinedIncorrectCvc": "4000000000000127",
    "pm_card_threeDSecure2Required": "4000002760003184",
    "pm_card_createDispute": "4000000000000259",
    "pm_card_radarBlock": "4100000000000019",
    "pm_card_riskLevelElevated": "4000000000009235",
    "pm_card_riskLevelHighest": "4000000000004954",
    "pm_card_br": "4000000760000002",
    "pm_card_ca": "4000001240000000",
    "pm_card_fr": "4000002500000003",
    "pm_card_de": "4000002760000016",
    "pm_card_gb": "4000008260000000",
}


class CardInputError(ValueError):
    """The buyer typed something that is not a usable card; `code` names the field problem."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(frozen=True)
class Card:
    """A card as typed by the buyer; kept in memory only, never stored or logged."""

    number: str = field(repr=False)
    exp_month: int
    exp_year: int
    cvc: str = field(repr=False)

    @property
    def brand(self) -> str:
        """The network, from the number's prefix."""
        return brand_of(self.number)

    def outcome(self):
        """What the sandbox's issuer answers for this card."""
        return TEST_CARDS.get(self.number, LIVE_CARD_DECLINE)

    def display_data(self, fingerprint_key: str) -> dict:
        """The only card data the sandbox keeps: the contract's `payment_method`."""
        return {"brand": self.brand, "last4": self.number[-4:], "exp_month": self.exp_month,
                "exp_year": self.exp_year, "fingerprint": fingerprint(self.number, fingerprint_key),
                "country": ISSUING_COUNTRIES.get(self.number, "US")}

    @property
    def blocked(self) -> bool:
        """The PSP's fraud screen always blocks this card (Stripe's 4100 0000 0000 0019)."""
        return self.number in BLOCKED_CARDS

    def risk(self) -> tuple[str, int]:
        """The PSP's risk verdict for this card: (risk_level, risk_score)."""
        return RISK_CARDS.get(self.number, NORMAL_RISK)


def luhn_valid(number: str) -> bool:
    """True if the digits pass the Luhn checksum."""
    if not number.isdigit():
        return False
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = int(char)
        if position % 2 == 1:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def brand_of(number: str) -> str:
    """visa, mastercard, amex, discover or unknown."""
    if number.startswith("4"):
        return "visa"
    if number[:2] in {"51", "52", "53", "54", "55"} or 2221 <= int(number[:4] or 0) <= 2720:
        return "mastercard"
    if number[:2] in {"34", "37"}:
        return "amex"
    if number.startswith(("6011", "65")):
        return "discover"
    return "unknown"


def fingerprint(number: str, key: str) -> str:
    """A keyed hash of the number: equal cards match, yet it cannot be brute-forced without the key."""
    return hmac.new(key.encode(), number.encode(), hashlib.sha256).hexdigest()[:16]


def parse_card(number: str, expiry: str, cvc: str, today: datetime.date | None = None) -> Card:
    """Build a Card from form input (number with spaces, expiry MM/YY), or raise CardInputError."""
    digits = re.sub(r"[\s-]", "", number or "")
    if not (12 <= len(digits) <= 19) or not luhn_valid(digits):
        raise CardInputError("incorrect_number", "Your card number is incorrect.")
    match = re.fullmatch(r"\s*(\d{1,2})\s*/\s*(\d{2}|\d{4})\s*", expiry or "")
    if not match or not 1 <= int(match.group(1)) <= 12:
        raise CardInputError("invalid_expiry", "Your card's expiry date is incomplete or invalid.")
    month, year = int(match.group(1)), int(match.group(2))
    year = year + 2000 if year < 100 else year
    today = today or datetime.date.today()
    if (year, month) < (today.year, today.month):
        raise CardInputError("invalid_expiry_year", "Your card's expiry date is in the past.")
    cvc_length = 4 if brand_of(digits) == "amex" else 3
    if not re.fullmatch(rf"\d{{{cvc_length}}}", (cvc or "").strip()):
        raise CardInputError("invalid_cvc", "Your card's security code is invalid.")
    return Card(digits, month, year, cvc.strip())


def card_for_token(token: str) -> Card | None:
    """The test card behind a `pm_card_*` token, with a future expiry; None if unknown."""
    number = PAYMENT_METHOD_TOKENS.get(token)
    if number is None:
        return None
    return Card(number, 12, datetime.date.today().year + 3, "123")
