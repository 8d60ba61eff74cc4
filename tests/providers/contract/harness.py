"""What the provider contract suite needs from each PSP under test.

One harness per provider (sandbox, Stripe fake, Braintree fake). The suite in this folder is
parametrized over every registered harness; each harness acts for the parts that happen outside
the platform: the buyer paying on the PSP's page, the card's bank opening or closing a dispute,
the PSP signing a webhook, and counting how often the PSP really executed an idempotency key.
"""
from __future__ import annotations

from typing import Protocol

from app.providers.base import PaymentProvider, ProviderPayment

# The adapters' timeouts in these suites. provider()'s is one no ordinary call reaches on a loaded
# machine; a "timeout_after" fault holds its answer back HELD_BACK seconds after executing, and
# the call meant to time out goes through impatient_provider(), which gives up after
# QUICK_TIMEOUT: the answer can never beat it, and no other call is cut short.
PATIENT_TIMEOUT = 10.0
QUICK_TIMEOUT = 0.5
HELD_BACK = QUICK_TIMEOUT + 1.0


class ContractHarness(Protocol):
    """A PSP (real simulator or fake) that the contract suite can drive."""

    name: str                       # "sandbox" | "stripe" | "braintree"
    supports_partial_capture: bool
    supports_hosted: bool           # create_session(mode="hosted") gives a redirect_url
    supports_embedded: bool

    def provider(self) -> PaymentProvider:
        """The adapter under test, pointed at this harness's PSP (never the network)."""

    def impatient_provider(self) -> PaymentProvider:
        """The same adapter with a QUICK_TIMEOUT: for the call a "timeout_after" fault holds."""

    def authorized_payment(self, amount: int, currency: str,
                           card: str = "4242424242424242") -> ProviderPayment:
        """A payment the buyer has authorized (not captured), created through the adapter's
        own create_session (or, for Braintree, the nonce flow) and paid as the buyer would."""

    def open_dispute(self, payment_reference: str) -> str:
        """Make the card's bank dispute a captured payment; returns the PSP's dispute id."""

    def close_dispute(self, dispute_reference: str, outcome: str) -> None:
        """Decide a dispute "won" or "lost" as the bank would."""

    def signed_webhook(self, event_type: str, object_id: str) -> tuple[bytes, dict]:
        """A webhook as this PSP would deliver it: (raw body, headers), validly signed."""

    def executions(self, idempotency_key: str) -> int:
        """How many times the PSP executed a request with this key (1 after any retries)."""

    def fail_next(self, fault: str) -> None:
        """Make the PSP's next API call fail: "5xx_before" (nothing executed), "5xx_after"
        (executed, then 500), "timeout_after" (executed, answer held back HELD_BACK s), "409",
        "429"."""
