"""Bank accounts that payouts go to: IBAN (ISO 13616 mod-97), US account + ABA routing, test outcomes.

Like a card, a `BankAccount` lives only in memory for one request; what is kept is
`display_data()`: type, last 4 and a keyed fingerprint, never the IBAN or the account number.
"""
import re
from dataclasses import dataclass, field

from .cards import fingerprint
from .errors import ApiError, invalid

PAID = "paid"
# Failure codes -> failure_message, as Stripe words them for payouts.
FAILURES = {
    "no_account": "The bank account details are probably incorrect: no bank account could be "
                  "located with those details.",
    "account_closed": "The bank account has been closed.",
    "insufficient_funds": "The payout could not be made: insufficient funds for it at the bank.",
}
# Stripe's test accounts; any routing number passes, the account number decides.
US_TEST_ACCOUNTS = {
    "000123456789": PAID,
    "000111111116": "no_account",
    "000111111113": "account_closed",
    "000222222227": "insufficient_funds",
}
# Our own; any other valid IBAN is paid.
IBAN_TEST_ACCOUNTS = {
    "DE89370400440532013000": PAID,
    "DE62370400440532013001": "account_closed",
    "DE35370400440532013002": "no_account",
}
DESTINATION_FIELDS = ("iban", "account_number", "routing_number")
_IBAN_SHAPE = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}")
_ABA_WEIGHTS = (3, 7, 1) * 3


@dataclass(frozen=True)
class BankAccount:
    """A payout destination as sent by the platform; kept in memory only, never stored or logged."""

    type: str  # "iban" | "us_account"
    number: str = field(repr=False)  # the normalized IBAN, or the US account number
    routing_number: str | None = field(default=None, repr=False)

    def outcome(self) -> str:
        """`paid`, or the failure code the test bank answers for this account."""
        table = IBAN_TEST_ACCOUNTS if self.type == "iban" else US_TEST_ACCOUNTS
        return table.get(self.number, PAID)

    def fingerprint(self, key: str) -> str:
        """A keyed hash of the whole account: equal accounts match, yet none can be recovered."""
        # Prefixed so an account can never share a fingerprint with a card or another type.
        return fingerprint(f"{self.type}:{self.routing_number or ''}:{self.number}", key)

    def display_data(self, key: str) -> dict:
        """The only account data the sandbox keeps: type, last 4 and the fingerprint."""
        return {"type": self.type, "last4": self.number[-4:], "fingerprint": self.fingerprint(key)}


def iban_valid(iban: str) -> bool:
    """True if a normalized IBAN has the ISO 13616 shape and its mod-97 checksum is 1."""
    if not _IBAN_SHAPE.fullmatch(iban):
        return False
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97 == 1


def routing_number_valid(routing: str) -> bool:
    """True for nine digits passing the ABA checksum (weights 3, 7, 1)."""
    if not re.fullmatch(r"[0-9]{9}", routing):
        return False
    return sum(int(digit) * weight for digit, weight in zip(routing, _ABA_WEIGHTS)) % 10 == 0


def parse_destination(value) -> BankAccount:
    """A BankAccount from the API's `destination`, or a 400 naming the offending field."""
    if value is None:
        raise invalid("destination", "Missing required param: destination.", "parameter_missing")
    if not isinstance(value, dict):
        raise invalid("destination", "Invalid destination: must be an object with an iban, "
                      "or an account_number and a routing_number.")
    for name in value:
        if name not in DESTINATION_FIELDS:
            raise invalid(f"destination[{name}]", f"Received unknown parameter: destination[{name}]",
                          "parameter_unknown")
    if "iban" in value:
        if "account_number" in value or "routing_number" in value:
            raise invalid("destination", "Invalid destination: give either an iban, or an "
                          "account_number and a routing_number, not both.")
        return _iban_account(value["iban"])
    if not value:
        raise invalid("destination", "Invalid destination: give an iban, or an account_number "
                      "and a routing_number.", "parameter_missing")
    return _us_account(value.get("account_number"), value.get("routing_number"))


def _iban_account(raw) -> BankAccount:
    # The value is never echoed in the message: error bodies can be saved with an Idempotency-Key.
    iban = re.sub(r"\s", "", raw).upper() if isinstance(raw, str) else ""
    if not iban_valid(iban):
        raise invalid("destination[iban]", "Invalid IBAN: its format or its check digits are wrong.")
    return BankAccount("iban", iban)


def _us_account(account, routing) -> BankAccount:
    for name, raw in (("account_number", account), ("routing_number", routing)):
        if raw is None:
            raise invalid(f"destination[{name}]", f"Missing required param: destination[{name}].",
                          "parameter_missing")
    if not isinstance(account, str) or not re.fullmatch(r"[0-9]{4,17}", account):
        raise invalid("destination[account_number]",
                      "Invalid account number: must be a string of 4 to 17 digits.")
    if not isinstance(routing, str) or not routing_number_valid(routing):
        raise invalid("destination[routing_number]",
                      "Invalid routing number: must be nine digits with a valid ABA checksum.")
    return BankAccount("us_account", account, routing)


def redact_destination(body: dict, key: str) -> dict:
    """The request body with a valid destination replaced by its keyed fingerprint.

    Idempotency compares requests by an unkeyed hash of their body; with the bank details
    inside, that hash would let anyone holding the database brute-force the account number.
    """
    try:
        account = parse_destination(body.get("destination"))
    except ApiError:  # an invalid body fails validation, so nothing of it is saved
        return body
    return {**body, "destination": {"fingerprint": account.fingerprint(key)}}
