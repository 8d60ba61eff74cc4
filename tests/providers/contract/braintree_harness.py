"""The contract suite's harness for Braintree: the adapter against the in-repo XML fake.

The buyer's part is played through the fake's stand-in Drop-in (a test card tokenized into a
nonce with a client token the adapter fetched), then the adapter's nonce sale, as the
platform's Drop-in page does. Braintree has no idempotency keys: a sale or refund is counted
by the order_id the adapter sends (our key); captures and voids by transaction, and the harness
remembers which key asked for which transaction.
"""
from __future__ import annotations

import uuid

import requests

from app.providers.base import PaymentProvider, ProviderPayment, SessionRequest
from app.providers.braintree import BraintreeProvider, from_config
from tests.fakes.braintree import Gateway, create_app
from tests.fakes.braintree.wiring import MERCHANT_ID, PRIVATE_KEY, PUBLIC_KEY, settings
from tests.providers.contract.harness import HELD_BACK, PATIENT_TIMEOUT, QUICK_TIMEOUT

# Neutral event names some suites use → Braintree notification kinds.
KINDS = {"payment.captured": "transaction_settled", "payment.failed":
         "transaction_settlement_declined", "dispute.created": "dispute_opened",
         "dispute.won": "dispute_won", "dispute.lost": "dispute_lost"}


class KeyRecordingBraintree(BraintreeProvider):
    """The real adapter, remembering which idempotency key asked to capture or void what."""

    def __init__(self, gateway, dispute_fee, keys: dict[str, str]):
        super().__init__(gateway, dispute_fee)
        self._keys = keys

    def capture(self, reference, amount, idempotency_key):
        self._keys[idempotency_key] = f"capture:{reference}"
        return super().capture(reference, amount, idempotency_key)

    def void(self, reference, idempotency_key):
        self._keys[idempotency_key] = f"void:{reference}"
        return super().void(reference, idempotency_key)


class BraintreeHarness:
    """ContractHarness for Braintree (see harness.py)."""

    name = "braintree"
    supports_partial_capture = True
    supports_hosted = False      # the buyer pays on our page, in Braintree's Drop-in frame
    supports_embedded = True

    def __init__(self, serve, timeout: float = PATIENT_TIMEOUT):
        """`serve`: WSGI app → base URL (the suite's serve_wsgi fixture)."""
        self.fake = Gateway(MERCHANT_ID, PUBLIC_KEY, PRIVATE_KEY, timeout_seconds=HELD_BACK)
        self.url = serve(create_app(self.fake))
        self._keys: dict[str, str] = {}
        plain = from_config(settings(self.url) | {"PSP_TIMEOUT_SECONDS": timeout})
        self._adapter = KeyRecordingBraintree(plain.gateway, plain.dispute_fee, self._keys)
        quick = from_config(settings(self.url) | {"PSP_TIMEOUT_SECONDS": QUICK_TIMEOUT})
        self._impatient = KeyRecordingBraintree(quick.gateway, quick.dispute_fee, self._keys)

    def provider(self) -> PaymentProvider:
        return self._adapter

    def impatient_provider(self) -> PaymentProvider:
        return self._impatient

    def nonce_for(self, card: str) -> str:
        """What the Drop-in frame yields for a test card typed by the buyer."""
        token = self._adapter.client_token()
        page = requests.get(f"{self.url}/dropin", params={"authorization": token,
                                                           "origin": "http://127.0.0.1"},
                            timeout=5)
        fingerprint = page.text.split('data-fingerprint="')[1].split('"')[0]
        answer = requests.post(f"{self.url}/dropin/tokenize", timeout=5, json={
            "fingerprint": fingerprint, "number": card, "expiry": "12/30", "cvv": "123"})
        answer.raise_for_status()
        return answer.json()["nonce"]

    def authorized_payment(self, amount: int, currency: str,
                           card: str = "4242424242424242") -> ProviderPayment:
        reference = f"hf_{uuid.uuid4().hex}"
        self._adapter.create_session(SessionRequest(
            reference=reference, amount=amount, currency=currency, mode="embedded",
            return_url="http://127.0.0.1/return", cancel_url="http://127.0.0.1/cancel",
            parent_origin="http://127.0.0.1", idempotency_key=reference))
        self.fake.currency = currency  # a merchant account in the payment's currency
        return self._adapter.authorize_nonce(reference, self.nonce_for(card), amount, currency)

    def open_dispute(self, payment_reference: str) -> str:
        return self.fake.open_dispute(payment_reference)["id"]

    def close_dispute(self, dispute_reference: str, outcome: str) -> None:
        self.fake.close_dispute(dispute_reference, outcome)

    def signed_webhook(self, event_type: str, object_id: str) -> tuple[bytes, dict]:
        body = self.fake.notification(KINDS.get(event_type, event_type), object_id)
        return body, {"Content-Type": "application/x-www-form-urlencoded"}

    def executions(self, idempotency_key: str) -> int:
        return self.fake.executions[self._keys.get(idempotency_key, idempotency_key)]

    def fail_next(self, fault: str) -> None:
        self.fake.fail_next(fault)
